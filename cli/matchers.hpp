#pragma once

// Which sessions --user and --where select. Only verified dict payloads are
// ever matched (the caller checks that); these functions look at the dict.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "backends/users/login_check.hpp"
#include "core/pyvalue.hpp"

namespace sessionctl::cli {

// --where PATH=VALUE. PATH is dotted ("cart.items.0.sku": dict keys, and list
// indexes in decimal); a backslash makes the next character literal, so
// "a\.b" is the key "a.b" and "k\=v" the key "k=v". VALUE is everything after
// the first unescaped '=', taken as JSON when it parses, else as a string.
struct WhereClause {
    std::vector<std::string> path;
    std::string raw_value;
    std::optional<PyValue> json_value;
};

// Throws UsageError when there is no '=', the path is empty or has an empty
// segment, or it ends in a lone backslash.
[[nodiscard]] WhereClause parse_where(std::string_view spec);

// The value at `path`, or nullptr when some step is missing.
[[nodiscard]] const PyValue* value_at(const PyDict& session, const std::vector<std::string>& path);

// True when the value at the path equals the JSON value (numbers compare as
// Python compares them: 1 == 1.0, but true is not 1), or is a string equal to
// the raw text (so _auth_user_id=42 matches the stored "42").
[[nodiscard]] bool where_matches(const WhereClause& clause, const PyDict& session);

// _auth_user_id as text (Django stores str(pk); an int is shown as decimal),
// nullopt when absent or of another type.
[[nodiscard]] std::optional<std::string> user_id_of(const PyDict& session);

// --user, every --where and --dead, all of which must hold.
struct SessionFilter {
    std::optional<std::string> user;
    std::vector<WhereClause> where;
    // --dead: only logins Django would no longer accept (the checker outlives the filter).
    const LoginChecker* dead = nullptr;

    [[nodiscard]] bool empty() const { return !user && where.empty() && !dead; }
    [[nodiscard]] bool matches(const PyDict& session) const;
};

[[nodiscard]] SessionFilter make_filter(const std::optional<std::string>& user,
                                        const std::vector<std::string>& where_specs);

}  // namespace sessionctl::cli
