#include "cli/pyvalue_json.hpp"

#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>

#include <fmt/format.h>

namespace sessionctl::cli {
namespace {

// PyBigInt holds canonical decimal text: "-"? then digits, no leading zeros.
ordered_json bigint_to_json(const PyBigInt& big) {
    const std::string& d = big.decimal;
    static const std::string kMax = std::to_string(std::numeric_limits<std::uint64_t>::max());
    bool negative = !d.empty() && d.front() == '-';
    if (!negative && (d.size() < kMax.size() || (d.size() == kMax.size() && d <= kMax)))
        return ordered_json(static_cast<std::uint64_t>(std::stoull(d)));
    return ordered_json(d);
}

}  // namespace

ordered_json to_json(const PyValue& value) {
    return std::visit(
        [](const auto& x) -> ordered_json {
            using T = std::decay_t<decltype(x)>;
            if constexpr (std::is_same_v<T, std::monostate>) return nullptr;
            else if constexpr (std::is_same_v<T, bool>) return x;
            else if constexpr (std::is_same_v<T, std::int64_t>) return x;
            else if constexpr (std::is_same_v<T, PyBigInt>) return bigint_to_json(x);
            else if constexpr (std::is_same_v<T, double>) return std::isfinite(x) ? ordered_json(x) : ordered_json();
            else if constexpr (std::is_same_v<T, std::string>) return x;
            else if constexpr (std::is_same_v<T, PyList>) {
                ordered_json out = ordered_json::array();
                for (const auto& item : x) out.push_back(to_json(item));
                return out;
            } else {
                ordered_json out = ordered_json::object();
                for (const auto& entry : x) out[entry.key] = to_json(entry.value);
                return out;
            }
        },
        value.variant());
}

std::string dump_json(const ordered_json& value, int indent) {
    std::string text = value.dump(indent, ' ', /*ensure_ascii=*/false, ordered_json::error_handler_t::replace);
    // nlohmann escapes U+0000..U+001F; DEL (0x7F) and C1 controls (U+0080..U+009F,
    // UTF-8 "\xC2\x80".."\xC2\x9F") pass through. Outside strings the dump is
    // ASCII without either, so escaping them everywhere is safe.
    std::string out;
    out.reserve(text.size());
    for (std::size_t i = 0; i < text.size(); ++i) {
        auto c = static_cast<unsigned char>(text[i]);
        if (c == 0x7F) {
            out += "\\u007f";
        } else if (c == 0xC2 && i + 1 < text.size() && static_cast<unsigned char>(text[i + 1]) >= 0x80 &&
                   static_cast<unsigned char>(text[i + 1]) <= 0x9F) {
            out += fmt::format("\\u{:04x}", static_cast<unsigned char>(text[i + 1]));
            ++i;
        } else {
            out += static_cast<char>(c);
        }
    }
    return out;
}

}  // namespace sessionctl::cli
