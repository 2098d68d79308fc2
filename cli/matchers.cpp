#include "cli/matchers.hpp"

#include <charconv>
#include <cmath>
#include <cstdint>

#include <fmt/format.h>

#include "cli/exit_codes.hpp"
#include "cli/json_input.hpp"
#include "cli/output.hpp"
#include "core/auth_hash.hpp"

namespace sessionctl::cli {

WhereClause parse_where(std::string_view spec) {
    WhereClause clause;
    std::string segment;
    bool escaped = false;
    bool saw_equals = false;
    std::size_t i = 0;
    auto bad = [&](std::string_view why) {
        return UsageError(
            fmt::format("--where '{}': {} (expected PATH=VALUE, e.g. cart.id=7)", printable(spec, 80), why));
    };
    for (; i < spec.size(); ++i) {
        char c = spec[i];
        if (escaped) {
            segment += c;
            escaped = false;
        } else if (c == '\\') {
            escaped = true;
        } else if (c == '.') {
            if (segment.empty()) throw bad("empty path segment");
            clause.path.push_back(std::move(segment));
            segment.clear();
        } else if (c == '=') {
            saw_equals = true;
            break;
        } else {
            segment += c;
        }
    }
    if (escaped) throw bad("path ends in a lone backslash");
    if (!saw_equals) throw bad("no '='");
    if (segment.empty()) throw bad(clause.path.empty() ? "empty path" : "empty path segment");
    clause.path.push_back(std::move(segment));
    clause.raw_value = std::string(spec.substr(i + 1));
    clause.json_value = parse_user_json(clause.raw_value);
    return clause;
}

const PyValue* value_at(const PyDict& session, const std::vector<std::string>& path) {
    const PyValue* current = nullptr;
    for (std::size_t n = 0; n < path.size(); ++n) {
        const std::string& step = path[n];
        if (n == 0) {
            current = session.find(step);
        } else if (current->is_dict()) {
            current = current->as_dict().find(step);
        } else if (current->is_list()) {
            std::size_t index = 0;
            auto [end, ec] = std::from_chars(step.data(), step.data() + step.size(), index);
            if (ec != std::errc() || end != step.data() + step.size() || index >= current->as_list().size())
                return nullptr;
            current = &current->as_list()[index];
        } else {
            return nullptr;
        }
        if (!current) return nullptr;
    }
    return current;
}

namespace {

bool float_equals_int(double f, std::int64_t i) {
    // Exact, as Python compares: 2**53 + 1 != float(2**53 + 1).
    if (!std::isfinite(f) || f != std::trunc(f) || f < -9223372036854775808.0 || f >= 9223372036854775808.0)
        return false;
    return static_cast<std::int64_t>(f) == i;
}

bool python_equals(const PyValue& a, const PyValue& b) {
    if (a.is_int() && b.is_float()) return float_equals_int(b.as_float(), a.as_int());
    if (a.is_float() && b.is_int()) return float_equals_int(a.as_float(), b.as_int());
    if (a.is_float() && b.is_float()) return a.as_float() == b.as_float();  // NaN never equals
    return a == b;
}

}  // namespace

bool where_matches(const WhereClause& clause, const PyDict& session) {
    const PyValue* value = value_at(session, clause.path);
    if (!value) return false;
    if (clause.json_value && python_equals(*value, *clause.json_value)) return true;
    return value->is_str() && value->as_str() == clause.raw_value;
}

std::optional<std::string> user_id_of(const PyDict& session) {
    const PyValue* id = session.find(SESSION_KEY);
    if (!id) return std::nullopt;
    if (id->is_str()) return id->as_str();
    if (id->is_int()) return std::to_string(id->as_int());
    if (id->is_bigint()) return id->as_bigint().decimal;
    return std::nullopt;
}

bool SessionFilter::matches(const PyDict& session) const {
    if (user && user_id_of(session) != *user) return false;
    for (const auto& clause : where)
        if (!where_matches(clause, session)) return false;
    if (dead) {
        const auto verdict = dead->check(session);
        if (!verdict || !verdict->dead) return false;
    }
    return true;
}

SessionFilter make_filter(const std::optional<std::string>& user, const std::vector<std::string>& where_specs) {
    SessionFilter filter;
    if (user && user->empty()) throw UsageError("--user needs a user id");
    filter.user = user;
    for (const auto& spec : where_specs) filter.where.push_back(parse_where(spec));
    return filter;
}

}  // namespace sessionctl::cli
