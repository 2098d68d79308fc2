#pragma once

// A stored record decoded for display and matching: what inspect shows and
// what delete/expire decide on. Decoding never collapses a failure into {}:
// a record that is not a verified dict carries an error instead.

#include <cstddef>
#include <cstdint>
#include <iosfwd>
#include <optional>
#include <string>

#include "backends/store.hpp"
#include "cli/matchers.hpp"
#include "cli/pyvalue_json.hpp"
#include "core/session_codec.hpp"

namespace sessionctl::cli {

struct SessionView {
    std::string key;
    std::size_t size = 0;  // bytes of the stored session_data
    DecodeResult decoded;
    // The only payloads filters match and expire rewrites: ok, verified, a dict.
    bool verified_dict = false;
    std::optional<std::string> user_id;  // _auth_user_id of a verified dict
    // Why the record cannot be used as a session: bad signature, malformed
    // data, or a verified payload that is not a dict.
    std::optional<std::string> error;
    std::optional<std::int64_t> expire_unix_micros;  // nullopt when the store keeps none or it is unreadable
    bool expired = false;                            // as Django's load() would judge it
    // inspect --dead: the rule the login broke ("user gone", ...).
    std::optional<std::string> dead_reason;

    [[nodiscard]] const PyDict* dict() const { return verified_dict ? &decoded.data.as_dict() : nullptr; }
};

// Decodes with the store's codec (verifying the signature) and asks the store
// whether Django would consider the record expired at `now`.
[[nodiscard]] SessionView view_session(const StoredSession& record, const Store& store, const DateTime& now);

// Where a decoded session stands against --user/--where: an empty filter takes
// every session; otherwise only a verified session can match, and one that
// could not be verified is told apart (no filter can see into it).
enum class FilterVerdict { skip, match, unmatchable };
[[nodiscard]] FilterVerdict filter_verdict(const SessionFilter& filter, const SessionView& view);

// One JSON Lines record for `inspect --json`: key, data, expire_date, expired,
// user_id, verified_with, error, size, format, compressed (README.md, "inspect":
// scripts depend on these names; fields are added, never renamed).
[[nodiscard]] std::string view_to_json_line(const SessionView& view);

// The human block of inspect (see the contract), ending with a blank line.
void print_view(std::ostream& out, const SessionView& view, std::int64_t now_unix_micros);

// "SECRET_KEY", "SECRET_KEY_FALLBACKS[1]", with " (legacy format)" when the
// payload predates Django 3.1; "" when not verified.
[[nodiscard]] std::string verified_with_text(const DecodeResult& decoded);

}  // namespace sessionctl::cli
