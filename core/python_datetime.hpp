#pragma once

// Python's datetime values as pickles carry them (PyDateTime, PyTimeDelta,
// PyTzInfo): what the reader, the writer and repr share. The text forms
// (python_isoformat, python_str, python_tzname) and to_core_datetime are
// declared in core/pickle_codec.hpp and defined in core/python_datetime.cpp.
// Internal to the pickle codec.

#include <cstdint>

#include "core/pyvalue.hpp"

namespace sessionctl::pickle {

constexpr std::int64_t kMicrosPerSecond = 1'000'000;
constexpr std::int64_t kMicrosPerDay = 86'400 * kMicrosPerSecond;

// timedelta(microseconds=micros) as Python normalizes it: days (negative for
// a negative span), then 0 <= seconds < 86400 and 0 <= microseconds < 10**6.
[[nodiscard]] PyTimeDelta timedelta_from_micros(std::int64_t micros);

}  // namespace sessionctl::pickle
