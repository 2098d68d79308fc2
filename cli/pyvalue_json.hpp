#pragma once

// Session values as JSON for output (--json, and the data shown to humans).
// Key order is the session's; integers of any size are written exactly (as
// Django holds them); NaN and +-Infinity become null (JSON has no token for
// them). to_json() is the nlohmann form for callers that need a tree; it
// writes integers beyond uint64 as decimal strings, so output goes through
// render_json() / dump_json_with_data() instead.

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "core/pyvalue.hpp"

namespace sessionctl::cli {

using ordered_json = nlohmann::ordered_json;

[[nodiscard]] ordered_json to_json(const PyValue& value);

// Text for stdout: invalid UTF-8 (lone surrogates a session may hold) becomes
// U+FFFD, and DEL and C1 control characters inside strings are written as
// \u escapes so data can never drive the terminal. indent < 0: one line.
[[nodiscard]] std::string dump_json(const ordered_json& value, int indent = -1);

// "a list", "a string", "null", "a boolean", "a number", "an object": for
// messages about a value that is not what was expected.
[[nodiscard]] const char* type_phrase(const PyValue& value);

// The exact JSON text of a session value, with the same escaping as dump_json.
[[nodiscard]] std::string render_json(const PyValue& value, int indent = -1);

// render_json(value, indent), appended to `out` (no temporary string: the
// per-record JSON lines of a scan are built in one buffer).
void append_json(std::string& out, const PyValue& value, int indent = -1);

// A JSON string exactly as dump_json(ordered_json(text)) writes it, appended
// to `out`. Plain printable ASCII is copied as it is; anything else takes the
// library's path (escapes, invalid UTF-8, DEL and C1 controls).
void append_json_string(std::string& out, std::string_view text);

// One line of JSON for `envelope` whose "data" member (which must be null in
// `envelope`) is `data` rendered exactly, or null when `data` is nullptr.
[[nodiscard]] std::string dump_json_with_data(const ordered_json& envelope, const PyValue* data);

}  // namespace sessionctl::cli
