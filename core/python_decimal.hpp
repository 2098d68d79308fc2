#pragma once

// decimal.Decimal as a pickle carries it: its constructor's argument, read
// as Decimal() reads text and kept as str(Decimal) (PyDecimal). Internal to
// the pickle codec.

#include <optional>
#include <string>
#include <string_view>

namespace sessionctl::pickle {

// str(Decimal(text)), or nullopt when Decimal() would raise InvalidOperation.
[[nodiscard]] std::optional<std::string> decimal_canonical(std::string_view text);

}  // namespace sessionctl::pickle
