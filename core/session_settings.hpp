#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace sessionctl {

// The default cap on a session's inflated JSON. Django sets none; 64 MiB is 64
// times the largest session we test real Django writing and reading back (1 MiB),
// and far beyond a cookie (4 KiB) or a sensible database row.
inline constexpr std::size_t kDefaultMaxInflatedBytes = std::size_t{64} << 20;

// Where Django versions read the same stored value differently. Writing always
// follows the current series.
enum class DjangoSeries {
    v3_2,     // an ISO-string _session_expiry is not a date (age = the string itself)
    current,  // 4.1 and later: ISO strings are parsed with fromisoformat
};

// The settings SessionBase reads (Django's names in comments).
struct SessionSettings {
    std::int64_t cookie_age = 1209600;              // SESSION_COOKIE_AGE
    bool expire_at_browser_close = false;           // SESSION_EXPIRE_AT_BROWSER_CLOSE
    bool use_tz = true;                             // USE_TZ
    std::string store_class_name = "SessionStore";  // SESSION_STORE_CLASS (ours): key_salt
    DjangoSeries series = DjangoSeries::current;
    // SESSION_MAX_INFLATED_SIZE (ours): a compressed session inflating past
    // this many bytes is refused as a zlib bomb (Django has no such cap).
    std::size_t max_inflated_bytes = kDefaultMaxInflatedBytes;
};

}  // namespace sessionctl
