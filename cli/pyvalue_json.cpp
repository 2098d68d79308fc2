#include "cli/pyvalue_json.hpp"

#include "core/json_codec.hpp"

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

namespace {

void render(const PyValue& value, int indent, int depth, std::string& out) {
    auto newline = [&](int level) {
        if (indent < 0) return;
        out += '\n';
        out.append(static_cast<std::size_t>(indent * level), ' ');
    };
    std::visit(
        [&](const auto& x) {
            using T = std::decay_t<decltype(x)>;
            if constexpr (std::is_same_v<T, std::monostate>) out += "null";
            else if constexpr (std::is_same_v<T, bool>) out += x ? "true" : "false";
            else if constexpr (std::is_same_v<T, std::int64_t>) out += std::to_string(x);
            else if constexpr (std::is_same_v<T, PyBigInt>) out += x.decimal;
            else if constexpr (std::is_same_v<T, double>) out += std::isfinite(x) ? python_float_repr(x) : "null";
            else if constexpr (std::is_same_v<T, std::string>) out += dump_json(ordered_json(x));
            else if constexpr (std::is_same_v<T, PyList>) {
                if (x.empty()) {
                    out += "[]";
                    return;
                }
                out += '[';
                for (std::size_t i = 0; i < x.size(); ++i) {
                    if (i) out += ',';
                    newline(depth + 1);
                    render(x[i], indent, depth + 1, out);
                }
                newline(depth);
                out += ']';
            } else {
                if (x.empty()) {
                    out += "{}";
                    return;
                }
                out += '{';
                bool first = true;
                for (const auto& entry : x) {
                    if (!first) out += ',';
                    first = false;
                    newline(depth + 1);
                    out += dump_json(ordered_json(entry.key));
                    out += indent < 0 ? ":" : ": ";
                    render(entry.value, indent, depth + 1, out);
                }
                newline(depth);
                out += '}';
            }
        },
        value.variant());
}

}  // namespace

const char* type_phrase(const PyValue& v) {
    if (v.is_dict()) return "an object";
    if (v.is_list()) return "a list";
    if (v.is_str()) return "a string";
    if (v.is_none()) return "null";
    if (v.is_bool()) return "a boolean";
    return "a number";
}

std::string render_json(const PyValue& value, int indent) {
    std::string out;
    render(value, indent, 0, out);
    return out;
}

std::string dump_json_with_data(const ordered_json& envelope, const PyValue* data) {
    std::string text = dump_json(envelope);
    if (!data) return text;
    // Every other member is a scalar, so the only unescaped "data":null is ours.
    static constexpr std::string_view placeholder = "\"data\":null";
    auto pos = text.find(placeholder);
    if (pos == std::string::npos) return text;
    return text.substr(0, pos) + "\"data\":" + render_json(*data) + text.substr(pos + placeholder.size());
}

}  // namespace sessionctl::cli
