#pragma once

// Expiry values typed by the user, turned into what set_expiry() takes.

#include <cstdint>
#include <string_view>

#include "core/clock.hpp"
#include "core/datetime.hpp"
#include "core/session_base.hpp"

namespace sessionctl::cli {

// An ISO 8601 date-time (Python 3.11 fromisoformat). With USE_TZ it must carry
// an offset ("Z", "+02:00"): a naive value cannot be stored then. Without
// USE_TZ an aware value is converted to local wall time (TZ = TIME_ZONE), as
// the SQLite backend refuses aware values there. Throws UsageError naming `what`.
[[nodiscard]] DateTime parse_datetime_arg(std::string_view text, bool use_tz, std::string_view what);

// --expiry: whole seconds (0 = at browser close), "browser-close", or an ISO
// 8601 date-time as above.
[[nodiscard]] ExpiryValue parse_expiry_arg(std::string_view text, bool use_tz);

// set_expiry(seconds) must land between years 1 and 9999 (Python's datetime
// range); throws UsageError naming `what` otherwise.
void check_expiry_seconds(std::int64_t seconds, const Clock& clock, std::string_view what);

}  // namespace sessionctl::cli
