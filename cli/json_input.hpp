#pragma once

// JSON typed by a user (--data, --data-file, --where VALUE) into the session
// value model. The text is UTF-8, so it is read as UTF-8 (json_loads_latin1
// would turn "é" into mojibake); integers keep their exact value (beyond
// int64 as PyBigInt) and objects keep their key order, last duplicate winning
// as in Python.

#include <optional>
#include <string>
#include <string_view>

#include "core/pyvalue.hpp"

namespace sessionctl::cli {

// Any JSON value; nullopt (and why in *error) when the text is not JSON.
[[nodiscard]] std::optional<PyValue> parse_user_json(std::string_view text, std::string* error = nullptr);

// A JSON object, or UsageError naming `what` (e.g. "--data").
[[nodiscard]] PyDict parse_user_json_object(std::string_view text, std::string_view what);

}  // namespace sessionctl::cli
