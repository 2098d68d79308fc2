#include "core/python_repr.hpp"

#include <cstdint>
#include <type_traits>
#include <variant>

#include <fmt/format.h>

#include "core/json_codec.hpp"  // python_float_repr
#include "core/pickle_codec.hpp"
#include "core/python_datetime.hpp"
#include "util/utf8.hpp"

namespace sessionctl {
namespace pickle {
namespace {

bool py_printable(std::uint32_t c) {
    if (c < 0x20 || c == 0x7F) return false;
    if (c < 0x7F) return true;
    if (c <= 0xA0 || c == 0xAD) return false;
    if (c >= 0xD800 && c <= 0xDFFF) return false;  // surrogates
    if (c == 0x034F || c == 0x061C || c == 0x1680 || c == 0x180E || c == 0x3000 || c == 0xFEFF) return false;
    if ((c >= 0x2000 && c <= 0x200F) || (c >= 0x2028 && c <= 0x202F) || (c >= 0x205F && c <= 0x206F)) return false;
    if (c >= 0xE000 && c <= 0xF8FF) return false;  // private use
    if ((c >= 0xFFF9 && c <= 0xFFFB) || (c & 0xFFFE) == 0xFFFE) return false;
    if ((c >= 0xE0000 && c <= 0xE0FFF) || c >= 0xF0000) return false;  // tags, private use planes
    return c <= 0x10FFFF;
}

// The quote repr() picks for str and bytes alike: ' unless the text holds '
// and no ".
char repr_quote(std::string_view s) {
    const bool has_single = s.find('\'') != std::string_view::npos;
    const bool has_double = s.find('"') != std::string_view::npos;
    return has_single && !has_double ? '"' : '\'';
}

}  // namespace

std::string str_repr(std::string_view s) {
    const char quote = repr_quote(s);
    std::string out(1, quote);
    for (std::size_t i = 0; i < s.size();) {
        const std::size_t start = i;
        const std::uint32_t cp = next_code_point(s, i);
        if (cp == static_cast<std::uint32_t>(quote) || cp == '\\') {
            out += '\\';
            out += static_cast<char>(cp);
        } else if (cp == '\t') out += "\\t";
        else if (cp == '\n') out += "\\n";
        else if (cp == '\r') out += "\\r";
        else if (cp >= 0x110000) out += fmt::format("\\x{:02x}", cp - 0x110000);
        else if (py_printable(cp)) out.append(s.substr(start, i - start));
        else if (cp < 0x100) out += fmt::format("\\x{:02x}", cp);
        else if (cp < 0x10000) out += fmt::format("\\u{:04x}", cp);
        else out += fmt::format("\\U{:08x}", cp);
    }
    out += quote;
    return out;
}

std::string quoted_bytes(std::string_view s, std::size_t max) {
    std::string out = "'";
    for (std::size_t i = 0; i < s.size() && i < max; ++i) {
        const auto c = static_cast<unsigned char>(s[i]);
        if (c >= 0x20 && c < 0x7f && c != '\'' && c != '\\') out += static_cast<char>(c);
        else out += fmt::format("\\x{:02x}", c);
    }
    if (s.size() > max) out += "...";
    return out + "'";
}

namespace {

std::string bytes_repr(std::string_view s) {
    const char quote = repr_quote(s);
    std::string out = "b";
    out += quote;
    for (unsigned char c : s) {
        if (c == static_cast<unsigned char>(quote) || c == '\\') {
            out += '\\';
            out += static_cast<char>(c);
        } else if (c == '\t') out += "\\t";
        else if (c == '\n') out += "\\n";
        else if (c == '\r') out += "\\r";
        else if (c < 0x20 || c >= 0x7F) out += fmt::format("\\x{:02x}", c);
        else out += static_cast<char>(c);
    }
    out += quote;
    return out;
}

std::string timedelta_repr(const PyTimeDelta& td) {
    std::string args;
    auto add = [&](const char* name, std::int64_t v) {
        if (!v) return;
        if (!args.empty()) args += ", ";
        args += fmt::format("{}={}", name, v);
    };
    add("days", td.days);
    add("seconds", td.seconds);
    add("microseconds", td.microseconds);
    return "datetime.timedelta(" + (args.empty() ? std::string("0") : args) + ")";
}

std::string tzinfo_repr(const PyTzInfo& tz) {
    switch (tz.kind) {
        case PyTzInfo::Kind::fixed:
            if (tz.utcoffset_us == 0 && !tz.has_name) return "datetime.timezone.utc";
            return "datetime.timezone(" + timedelta_repr(timedelta_from_micros(tz.utcoffset_us)) +
                   (tz.has_name ? ", " + str_repr(tz.name) : "") + ")";
        case PyTzInfo::Kind::pytz_utc: return "<UTC>";
        case PyTzInfo::Kind::pytz_zone:
            if (!tz.has_utcoffset) return "<StaticTzInfo " + str_repr(tz.key) + ">";
            return fmt::format("<DstTzInfo {} {}{}{} {}>", str_repr(tz.key), tz.name, tz.utcoffset_us > 0 ? "+" : "",
                               python_str(timedelta_from_micros(tz.utcoffset_us)), tz.dst_us ? "DST" : "STD");
        case PyTzInfo::Kind::zoneinfo: return "zoneinfo.ZoneInfo(key=" + str_repr(tz.key) + ")";
    }
    return "?";
}

void repr_into(std::string& out, const PyValue& value);

void repr_items(std::string& out, const PyList& items) {
    for (std::size_t i = 0; i < items.size(); ++i) {
        if (i) out += ", ";
        repr_into(out, items[i]);
    }
}

void repr_dict(std::string& out, const PyDict& dict) {
    out += '{';
    bool first = true;
    for (const auto& e : dict) {
        if (!first) out += ", ";
        first = false;
        out += str_repr(e.key);
        out += ": ";
        repr_into(out, e.value);
    }
    out += '}';
}

std::string datetime_repr(const PyDateTime& d) {
    std::string out;
    switch (d.kind) {
        case PyDateTime::Kind::date: return fmt::format("datetime.date({}, {}, {})", d.year, d.month, d.day);
        case PyDateTime::Kind::datetime:
            out = fmt::format("datetime.datetime({}, {}, {}, {}, {}", d.year, d.month, d.day, d.hour, d.minute);
            break;
        case PyDateTime::Kind::time: out = fmt::format("datetime.time({}, {}", d.hour, d.minute); break;
    }
    if (d.second || d.microsecond) out += fmt::format(", {}", d.second);
    if (d.microsecond) out += fmt::format(", {}", d.microsecond);
    // datetime writes fold before tzinfo, time after it.
    if (d.fold && d.kind == PyDateTime::Kind::datetime) out += ", fold=1";
    if (d.tzinfo) out += ", tzinfo=" + tzinfo_repr(*d.tzinfo);
    if (d.fold && d.kind == PyDateTime::Kind::time) out += ", fold=1";
    return out + ")";
}

void repr_into(std::string& out, const PyValue& value) {
    std::visit(
        [&](const auto& x) {
            using T = std::decay_t<decltype(x)>;
            if constexpr (std::is_same_v<T, std::monostate>) out += "None";
            else if constexpr (std::is_same_v<T, bool>) out += x ? "True" : "False";
            else if constexpr (std::is_same_v<T, std::int64_t>) out += std::to_string(x);
            else if constexpr (std::is_same_v<T, PyBigInt>) out += x.decimal;
            else if constexpr (std::is_same_v<T, double>) out += python_float_repr(x);
            else if constexpr (std::is_same_v<T, std::string>) out += str_repr(x);
            else if constexpr (std::is_same_v<T, PyList>) {
                out += '[';
                repr_items(out, x);
                out += ']';
            } else if constexpr (std::is_same_v<T, PyDict>) repr_dict(out, x);
            else if constexpr (std::is_same_v<T, PyTuple>) {
                out += '(';
                repr_items(out, x.items);
                if (x.items.size() == 1) out += ',';
                out += ')';
            } else if constexpr (std::is_same_v<T, PySet>) {
                if (x.items.empty()) {
                    out += x.frozen ? "frozenset()" : "set()";
                    return;
                }
                if (x.frozen) out += "frozenset(";
                out += '{';
                repr_items(out, x.items);
                out += '}';
                if (x.frozen) out += ')';
            } else if constexpr (std::is_same_v<T, PyBytes>) out += bytes_repr(x.data);
            else if constexpr (std::is_same_v<T, PyByteArray>) out += "bytearray(" + bytes_repr(x.data) + ")";
            else if constexpr (std::is_same_v<T, PyDecimal>) out += "Decimal('" + x.text + "')";
            else if constexpr (std::is_same_v<T, PyDateTime>) out += datetime_repr(x);
            else if constexpr (std::is_same_v<T, PyTimeDelta>) out += timedelta_repr(x);
            else if constexpr (std::is_same_v<T, PyTimezone>) out += tzinfo_repr(*x.info);
            else if constexpr (std::is_same_v<T, PyOrderedDict>) {
                if (x.dict.empty()) {
                    out += "OrderedDict()";
                    return;
                }
                out += "OrderedDict(";
                repr_dict(out, x.dict);
                out += ')';
            }
        },
        value.variant());
}

}  // namespace
}  // namespace pickle

std::string python_repr(const PyValue& value) {
    std::string out;
    pickle::repr_into(out, value);
    return out;
}

}  // namespace sessionctl
