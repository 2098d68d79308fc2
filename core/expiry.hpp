#pragma once

// get_expiry_age / get_expiry_date / get_expire_at_browser_close for a given
// _session_expiry value (nullptr when absent), with Django's exact results:
// the age may be an int, a float, True, or (3.2) the stored string itself.

#include <cstdint>

#include "core/datetime.hpp"
#include "core/pyvalue.hpp"
#include "core/session_settings.hpp"

namespace sessionctl {

[[nodiscard]] PyValue expiry_age(const PyValue* expiry, const DateTime& modification, const SessionSettings& settings);
[[nodiscard]] DateTime expiry_date(const PyValue* expiry, const DateTime& modification,
                                   const SessionSettings& settings);
[[nodiscard]] bool expire_at_browser_close(const PyValue* expiry, const SessionSettings& settings);

// The age as a number of seconds, for stores that need one (cache TTLs, file
// engine checks); throws ExpiryError when Django's result is not a number.
[[nodiscard]] double expiry_age_seconds(const PyValue& age);

}  // namespace sessionctl
