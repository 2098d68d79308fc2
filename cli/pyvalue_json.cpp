#include "cli/pyvalue_json.hpp"

#include "core/append_decimal.hpp"
#include "core/json_codec.hpp"
#include "core/pickle_codec.hpp"

#include <algorithm>
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

std::string hex_of(const std::string& data) {
    static constexpr char digits[] = "0123456789abcdef";
    std::string out;
    out.reserve(data.size() * 2);
    for (unsigned char c : data) {
        out += digits[c >> 4];
        out += digits[c & 15];
    }
    return out;
}

// The pickle-only kinds that JSON has no form for, as a one-member object
// tagged with the Python type: {"$datetime": "2023-11-14T22:13:30.750000+00:00"},
// {"$date": ...}, {"$time": ...}, {"$timedelta": "1 day, 0:00:05"},
// {"$timezone": "UTC"}, {"$decimal": "1.10"}, {"$bytes_hex": "00ff"},
// {"$bytearray_hex": ...}. Sets are {"$set": [...]} / {"$frozenset": [...]}.
// Tuples and OrderedDicts are written as json.dumps writes them (array,
// object). Returns the tag and its text; the tag is empty for set kinds.
std::pair<const char*, std::string> tagged_scalar(const PyValue& value) {
    if (value.holds<PyDateTime>()) {
        const auto& d = value.get<PyDateTime>();
        const char* tag = d.kind == PyDateTime::Kind::date   ? "$date"
                          : d.kind == PyDateTime::Kind::time ? "$time"
                                                             : "$datetime";
        return {tag, python_isoformat(d)};
    }
    if (value.holds<PyTimeDelta>()) return {"$timedelta", python_str(value.get<PyTimeDelta>())};
    if (value.holds<PyTimezone>()) return {"$timezone", python_tzname(*value.get<PyTimezone>().info)};
    if (value.holds<PyDecimal>()) return {"$decimal", value.get<PyDecimal>().text};
    if (value.holds<PyBytes>()) return {"$bytes_hex", hex_of(value.get<PyBytes>().data)};
    if (value.holds<PyByteArray>()) return {"$bytearray_hex", hex_of(value.get<PyByteArray>().data)};
    return {"", ""};
}

}  // namespace

ordered_json to_json(const PyValue& value) {
    return std::visit(
        [&value](const auto& x) -> ordered_json {
            using T = std::decay_t<decltype(x)>;
            if constexpr (std::is_same_v<T, std::monostate>) return nullptr;
            else if constexpr (std::is_same_v<T, bool>) return x;
            else if constexpr (std::is_same_v<T, std::int64_t>) return x;
            else if constexpr (std::is_same_v<T, PyBigInt>) return bigint_to_json(x);
            else if constexpr (std::is_same_v<T, double>) return std::isfinite(x) ? ordered_json(x) : ordered_json();
            else if constexpr (std::is_same_v<T, std::string>) return x;
            else if constexpr (std::is_same_v<T, PyList> || std::is_same_v<T, PyTuple>) {
                const PyList* items = nullptr;
                if constexpr (std::is_same_v<T, PyList>) items = &x;
                else items = &x.items;
                ordered_json out = ordered_json::array();
                for (const auto& item : *items) out.push_back(to_json(item));
                return out;
            } else if constexpr (std::is_same_v<T, PyDict> || std::is_same_v<T, PyOrderedDict>) {
                const PyDict* dict = nullptr;
                if constexpr (std::is_same_v<T, PyDict>) dict = &x;
                else dict = &x.dict;
                ordered_json out = ordered_json::object();
                for (const auto& entry : *dict) out[entry.key] = to_json(entry.value);
                return out;
            } else if constexpr (std::is_same_v<T, PySet>) {
                ordered_json items = ordered_json::array();
                for (const auto& item : x.items) items.push_back(to_json(item));
                ordered_json out = ordered_json::object();
                out[x.frozen ? "$frozenset" : "$set"] = std::move(items);
                return out;
            } else {
                auto [tag, text] = tagged_scalar(value);
                ordered_json out = ordered_json::object();
                out[tag] = text;
                return out;
            }
        },
        value.variant());
}

std::string dump_json(const ordered_json& value, int indent) {
    std::string text = value.dump(indent, ' ', /*ensure_ascii=*/false, ordered_json::error_handler_t::replace);
    // nlohmann escapes U+0000..U+001F; DEL (0x7F) and C1 controls (U+0080..U+009F,
    // UTF-8 "\xC2\x80".."\xC2\x9F") pass through. Outside strings the dump is
    // ASCII without either, so escaping them everywhere is safe. Most dumps
    // hold neither byte and are returned as they are.
    if (std::none_of(text.begin(), text.end(), [](char c) {
            return static_cast<unsigned char>(c) == 0x7F || static_cast<unsigned char>(c) == 0xC2;
        }))
        return text;
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

void append_json_string(std::string& out, std::string_view text) {
    const bool plain =
        std::all_of(text.begin(), text.end(), [](char c) { return c >= 0x20 && c < 0x7F && c != '"' && c != '\\'; });
    if (!plain) {
        out += dump_json(ordered_json(std::string(text)));
        return;
    }
    out += '"';
    out += text;
    out += '"';
}

namespace {

void render_list(const PyList& x, int indent, int depth, std::string& out);
void render_dict(const PyDict& x, int indent, int depth, std::string& out);

void newline_to(std::string& out, int indent, int level) {
    if (indent < 0) return;
    out += '\n';
    out.append(static_cast<std::size_t>(indent * level), ' ');
}

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
            else if constexpr (std::is_same_v<T, std::int64_t>) append_decimal(out, x);
            else if constexpr (std::is_same_v<T, PyBigInt>) out += x.decimal;
            else if constexpr (std::is_same_v<T, double>) out += std::isfinite(x) ? python_float_repr(x) : "null";
            else if constexpr (std::is_same_v<T, std::string>) append_json_string(out, x);
            else if constexpr (std::is_same_v<T, PyList>) render_list(x, indent, depth, out);
            else if constexpr (std::is_same_v<T, PyTuple>) render_list(x.items, indent, depth, out);
            else if constexpr (std::is_same_v<T, PyDict>) render_dict(x, indent, depth, out);
            else if constexpr (std::is_same_v<T, PyOrderedDict>) render_dict(x.dict, indent, depth, out);
            else if constexpr (std::is_same_v<T, PySet>) {
                // {"$set": [...]}
                out += '{';
                newline(depth + 1);
                out += x.frozen ? "\"$frozenset\"" : "\"$set\"";
                out += indent < 0 ? ":" : ": ";
                render_list(x.items, indent, depth + 1, out);
                newline(depth);
                out += '}';
            } else {
                auto [tag, text] = tagged_scalar(value);
                out += '{';
                newline(depth + 1);
                append_json_string(out, tag);
                out += indent < 0 ? ":" : ": ";
                append_json_string(out, text);
                newline(depth);
                out += '}';
            }
        },
        value.variant());
}

void render_list(const PyList& x, int indent, int depth, std::string& out) {
    if (x.empty()) {
        out += "[]";
        return;
    }
    out += '[';
    for (std::size_t i = 0; i < x.size(); ++i) {
        if (i) out += ',';
        newline_to(out, indent, depth + 1);
        render(x[i], indent, depth + 1, out);
    }
    newline_to(out, indent, depth);
    out += ']';
}

void render_dict(const PyDict& x, int indent, int depth, std::string& out) {
    if (x.empty()) {
        out += "{}";
        return;
    }
    out += '{';
    bool first = true;
    for (const auto& entry : x) {
        if (!first) out += ',';
        first = false;
        newline_to(out, indent, depth + 1);
        append_json_string(out, entry.key);
        out += indent < 0 ? ":" : ": ";
        render(entry.value, indent, depth + 1, out);
    }
    newline_to(out, indent, depth);
    out += '}';
}

}  // namespace

const char* type_phrase(const PyValue& v) {
    if (v.is_dict() || v.holds<PyOrderedDict>()) return "an object";
    if (v.is_list() || v.holds<PyTuple>()) return "a list";
    if (v.is_python_only()) return "a Python object";
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

void append_json(std::string& out, const PyValue& value, int indent) { render(value, indent, 0, out); }

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
