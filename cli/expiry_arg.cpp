#include "cli/expiry_arg.hpp"

#include <charconv>
#include <cstdint>

#include <fmt/format.h>

#include "cli/exit_codes.hpp"
#include "cli/output.hpp"

namespace sessionctl::cli {

DateTime parse_datetime_arg(std::string_view text, bool use_tz, std::string_view what) {
    DateTime value;
    try {
        value = parse_isoformat(text);
    } catch (const DateTimeError&) {
        throw UsageError(
            fmt::format("{} '{}' is not an ISO 8601 date-time (e.g. 2024-01-31T12:00:00Z)", what, printable(text, 80)));
    }
    if (use_tz && !value.aware())
        throw UsageError(fmt::format("{} '{}' has no UTC offset; with USE_TZ = true give one, e.g. {}Z", what,
                                     printable(text, 80), printable(text, 80)));
    if (!use_tz && value.aware()) value = DateTime::from_unix_local(value.utc_micros());
    return value;
}

ExpiryValue parse_expiry_arg(std::string_view text, bool use_tz) {
    if (text == "browser-close") return ExpiryValue(std::int64_t{0});
    std::int64_t seconds = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), seconds);
    if (!text.empty() && ec == std::errc() && end == text.data() + text.size()) return ExpiryValue(seconds);
    if (ec == std::errc::result_out_of_range) throw UsageError(fmt::format("--expiry {} is out of range", text));
    bool looks_numeric = !text.empty() && text.find_first_not_of("+-0123456789.eE") == std::string_view::npos;
    if (looks_numeric)
        throw UsageError(fmt::format("--expiry '{}' must be whole seconds, an ISO 8601 date-time or browser-close",
                                     printable(text, 80)));
    return ExpiryValue(parse_datetime_arg(text, use_tz, "--expiry"));
}

void check_expiry_seconds(std::int64_t seconds, const Clock& clock, std::string_view what) {
    // 0001-01-01T00:00:00 and 9999-12-31T23:59:59 as Unix seconds.
    constexpr std::int64_t kMin = -62135596800, kMax = 253402300799;
    std::int64_t now = clock.now_seconds();
    if (seconds > kMax - now || seconds < kMin - now)
        throw UsageError(fmt::format("{} {} seconds is past the year 9999 (or before year 1)", what, seconds));
}

}  // namespace sessionctl::cli
