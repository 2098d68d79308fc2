#include "core/python_decimal.hpp"

#include <cstdint>

#include <fmt/format.h>

#include "util/text.hpp"

namespace sessionctl::pickle {

std::optional<std::string> decimal_canonical(std::string_view text) {
    std::string_view s = trim_ascii_space(text);
    bool negative = false;
    if (!s.empty() && (s.front() == '+' || s.front() == '-')) {
        negative = s.front() == '-';
        s.remove_prefix(1);
    }
    const std::string sign = negative ? "-" : "";
    std::string lower(s);
    for (auto& c : lower) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
    if (lower == "inf" || lower == "infinity") return sign + "Infinity";
    // Drops the underscores Python accepts between digits; nullopt for others.
    auto strip_underscores = [](std::string_view part) -> std::optional<std::string> {
        std::string out;
        for (std::size_t i = 0; i < part.size(); ++i) {
            if (part[i] == '_') {
                if (i == 0 || i + 1 == part.size() || !(part[i - 1] >= '0' && part[i - 1] <= '9') ||
                    !(part[i + 1] >= '0' && part[i + 1] <= '9'))
                    return std::nullopt;
                continue;
            }
            if (part[i] < '0' || part[i] > '9') return std::nullopt;
            out += part[i];
        }
        return out;
    };
    for (const char* nan : {"snan", "nan"}) {
        const std::string_view prefix(nan);
        if (lower.rfind(prefix, 0) == 0) {
            auto payload = strip_underscores(std::string_view(lower).substr(prefix.size()));
            if (!payload) return std::nullopt;
            const auto nz = payload->find_first_not_of('0');
            const std::string digits = nz == std::string::npos ? "" : payload->substr(nz);
            return sign + (prefix.size() == 4 ? "sNaN" : "NaN") + digits;
        }
    }
    const auto epos = lower.find('e');
    const std::string_view mantissa = std::string_view(lower).substr(0, epos);
    std::int64_t exponent = 0;
    if (epos != std::string::npos) {
        std::string_view e = std::string_view(lower).substr(epos + 1);
        bool eneg = false;
        if (!e.empty() && (e.front() == '+' || e.front() == '-')) {
            eneg = e.front() == '-';
            e.remove_prefix(1);
        }
        auto edigits = strip_underscores(e);
        if (!edigits || edigits->empty()) return std::nullopt;
        const auto nz = edigits->find_first_not_of('0');
        const std::string ed = nz == std::string::npos ? "0" : edigits->substr(nz);
        if (ed.size() > 17) return std::nullopt;  // beyond what decimal's contexts allow
        exponent = std::stoll(ed) * (eneg ? -1 : 1);
    }
    const auto dot = mantissa.find('.');
    auto int_part = strip_underscores(mantissa.substr(0, dot));
    std::optional<std::string> frac_part = std::string();
    if (dot != std::string_view::npos) frac_part = strip_underscores(mantissa.substr(dot + 1));
    if (!int_part || !frac_part || (int_part->empty() && frac_part->empty())) return std::nullopt;
    std::string coef = *int_part + *frac_part;
    exponent -= static_cast<std::int64_t>(frac_part->size());
    const auto nz = coef.find_first_not_of('0');
    coef = nz == std::string::npos ? "0" : coef.substr(nz);
    // to-scientific-string (the General Decimal Arithmetic spec, which
    // Decimal.__str__ follows).
    const auto ndigits = static_cast<std::int64_t>(coef.size());
    const std::int64_t adjusted = exponent + ndigits - 1;
    std::string out = sign;
    if (exponent <= 0 && adjusted >= -6) {
        if (exponent == 0) {
            out += coef;
        } else if (ndigits > -exponent) {
            out += coef.substr(0, static_cast<std::size_t>(ndigits + exponent));
            out += '.';
            out += coef.substr(static_cast<std::size_t>(ndigits + exponent));
        } else {
            out += "0.";
            out.append(static_cast<std::size_t>(-exponent - ndigits), '0');
            out += coef;
        }
    } else {
        out += coef[0];
        if (ndigits > 1) {
            out += '.';
            out += coef.substr(1);
        }
        out += fmt::format("E{}{}", adjusted >= 0 ? "+" : "-", adjusted >= 0 ? adjusted : -adjusted);
    }
    return out;
}

}  // namespace sessionctl::pickle
