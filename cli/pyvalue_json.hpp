#pragma once

// Session values as JSON for output (--json, and the data shown to humans).
// nlohmann's ordered_json keeps the session's key order; what it cannot hold
// is mapped: integers beyond uint64 become decimal strings, NaN and
// +-Infinity become null (JSON has no token for them).

#include <string>

#include <nlohmann/json.hpp>

#include "core/pyvalue.hpp"

namespace sessionctl::cli {

using ordered_json = nlohmann::ordered_json;

[[nodiscard]] ordered_json to_json(const PyValue& value);

// Text for stdout: invalid UTF-8 (lone surrogates a session may hold) becomes
// U+FFFD, and DEL and C1 control characters inside strings are written as
// \u escapes so data can never drive the terminal. indent < 0: one line.
[[nodiscard]] std::string dump_json(const ordered_json& value, int indent = -1);

}  // namespace sessionctl::cli
