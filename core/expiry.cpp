#include "core/expiry.hpp"

#include <fmt/format.h>

#include "core/errors.hpp"

namespace sessionctl {
namespace {

constexpr std::int64_t kMicros = 1'000'000;

DateTime parse_expiry_string(const std::string& text) {
    try {
        return parse_isoformat(text);
    } catch (const DateTimeError& e) {
        throw ExpiryError(e.python_class(), e.what());
    }
}

std::int64_t floor_seconds(std::int64_t micros) {
    std::int64_t q = micros / kMicros;
    if (micros % kMicros != 0 && micros < 0) --q;
    return q;
}

}  // namespace

PyValue expiry_age(const PyValue* expiry, const DateTime& modification, const SessionSettings& settings) {
    if (!expiry || !expiry->truthy()) return PyValue(settings.cookie_age);
    if (!expiry->is_str()) return *expiry;  // int, float, True: returned unchanged
    if (settings.series == DjangoSeries::v3_2) return *expiry;
    DateTime when = parse_expiry_string(expiry->as_str());
    try {
        // timedelta.days * 86400 + timedelta.seconds: the floor in whole seconds.
        return PyValue(floor_seconds(subtract_micros(when, modification)));
    } catch (const DateTimeError& e) {
        throw ExpiryError(e.python_class(), e.what());
    }
}

DateTime expiry_date(const PyValue* expiry, const DateTime& modification, const SessionSettings& settings) {
    if (expiry && expiry->is_str() && settings.series == DjangoSeries::current)
        return parse_expiry_string(expiry->as_str());
    PyValue seconds = (expiry && expiry->truthy()) ? *expiry : PyValue(settings.cookie_age);
    std::int64_t micros;
    if (seconds.is_int()) micros = seconds.as_int() * kMicros;
    else if (seconds.is_bool()) micros = seconds.as_bool() ? kMicros : 0;
    else if (seconds.is_float()) {
        try {
            micros = seconds_to_micros(seconds.as_float());  // NaN: ValueError, inf: OverflowError
        } catch (const DateTimeError& e) {
            throw ExpiryError(e.python_class(), e.what());
        }
    } else
        throw ExpiryError("TypeError",
                          fmt::format("unsupported type for timedelta seconds component: {}", seconds.type_name()));
    return modification.plus_micros(micros);
}

bool expire_at_browser_close(const PyValue* expiry, const SessionSettings& settings) {
    if (!expiry || expiry->is_none()) return settings.expire_at_browser_close;
    if (expiry->is_int()) return expiry->as_int() == 0;
    if (expiry->is_bool()) return !expiry->as_bool();
    if (expiry->is_float()) return expiry->as_float() == 0.0;
    return false;
}

double expiry_age_seconds(const PyValue& age) {
    if (age.is_int()) return static_cast<double>(age.as_int());
    if (age.is_float()) return age.as_float();
    if (age.is_bool()) return age.as_bool() ? 1 : 0;
    throw ExpiryError("TypeError", fmt::format("session expiry is a {}, not a number of seconds", age.type_name()));
}

}  // namespace sessionctl
