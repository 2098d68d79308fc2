#include "core/python_int.hpp"

#include <charconv>
#include <cstring>
#include <system_error>

#include <fmt/format.h>

#include "core/python_repr.hpp"
#include "util/text.hpp"

namespace sessionctl::pickle {
namespace {

// Little-endian base-2^32 magnitude -> decimal digits.
std::string limbs_to_decimal(std::vector<std::uint32_t> limbs) {
    while (!limbs.empty() && limbs.back() == 0) limbs.pop_back();
    if (limbs.empty()) return "0";
    std::vector<std::uint32_t> chunks;  // base 1e9, little-endian
    while (!limbs.empty()) {
        std::uint64_t rem = 0;
        for (std::size_t i = limbs.size(); i-- > 0;) {
            const std::uint64_t cur = (rem << 32) | limbs[i];
            limbs[i] = static_cast<std::uint32_t>(cur / 1'000'000'000u);
            rem = cur % 1'000'000'000u;
        }
        chunks.push_back(static_cast<std::uint32_t>(rem));
        while (!limbs.empty() && limbs.back() == 0) limbs.pop_back();
    }
    std::string out = std::to_string(chunks.back());
    for (std::size_t i = chunks.size() - 1; i-- > 0;) out += fmt::format("{:09d}", chunks[i]);
    return out;
}

// Two's complement negation of little-endian bytes, in place: invert, add one.
void negate(std::vector<unsigned char>& bytes) {
    unsigned carry = 1;
    for (auto& b : bytes) {
        const unsigned v = static_cast<unsigned char>(~b) + carry;
        b = static_cast<unsigned char>(v);
        carry = v >> 8;
    }
}

}  // namespace

PyValue int_from_decimal(std::string digits_with_sign) {
    std::int64_t v = 0;
    const char* b = digits_with_sign.data();
    const char* e = b + digits_with_sign.size();
    auto [ptr, ec] = std::from_chars(b, e, v);
    if (ec == std::errc() && ptr == e) return PyValue(v);
    return PyValue(PyBigInt{std::move(digits_with_sign)});
}

std::vector<std::uint32_t> decimal_to_limbs(std::string_view digits) {
    std::vector<std::uint32_t> limbs;
    std::size_t i = 0;
    const std::size_t first = digits.size() % 9 == 0 ? 9 : digits.size() % 9;
    std::size_t take = first;
    while (i < digits.size()) {
        std::uint32_t chunk = 0;
        std::uint32_t scale = 1;
        for (std::size_t k = 0; k < take; ++k) {
            chunk = chunk * 10 + static_cast<std::uint32_t>(digits[i + k] - '0');
            scale *= 10;
        }
        i += take;
        take = 9;
        std::uint64_t carry = chunk;
        for (auto& limb : limbs) {
            const std::uint64_t cur = static_cast<std::uint64_t>(limb) * scale + carry;
            limb = static_cast<std::uint32_t>(cur);
            carry = cur >> 32;
        }
        if (carry) limbs.push_back(static_cast<std::uint32_t>(carry));
    }
    return limbs;
}

PyValue int_from_le_signed(std::string_view bytes) {
    const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
    std::size_t n = bytes.size();
    if (n == 0) return PyValue(std::int64_t{0});
    const bool negative = (p[n - 1] & 0x80u) != 0;
    const unsigned char ext = negative ? 0xFF : 0x00;
    while (n > 1 && p[n - 1] == ext && ((p[n - 2] & 0x80u) != 0) == negative) --n;
    if (n <= 8) {
        std::uint64_t u = 0;
        for (std::size_t i = 0; i < n; ++i) u |= static_cast<std::uint64_t>(p[i]) << (8 * i);
        if (negative && n < 8) u |= ~std::uint64_t{0} << (8 * n);
        std::int64_t v;
        std::memcpy(&v, &u, sizeof v);
        return PyValue(v);
    }
    std::vector<unsigned char> mag(p, p + n);
    if (negative) negate(mag);  // magnitude = -value
    std::vector<std::uint32_t> limbs((mag.size() + 3) / 4, 0);
    for (std::size_t i = 0; i < mag.size(); ++i) limbs[i / 4] |= static_cast<std::uint32_t>(mag[i]) << (8 * (i % 4));
    std::string digits = limbs_to_decimal(std::move(limbs));
    return PyValue(PyBigInt{negative ? "-" + digits : digits});
}

std::pair<std::string, std::string> parse_python_int(std::string_view text) {
    std::string_view s = trim_ascii_space(text);
    bool negative = false;
    if (!s.empty() && (s.front() == '+' || s.front() == '-')) {
        negative = s.front() == '-';
        s.remove_prefix(1);
    }
    std::string digits;
    bool prev_digit = false;
    for (std::size_t i = 0; i < s.size(); ++i) {
        const char c = s[i];
        if (c >= '0' && c <= '9') {
            digits += c;
            prev_digit = true;
        } else if (c == '_' && prev_digit && i + 1 < s.size() && s[i + 1] >= '0' && s[i + 1] <= '9') {
            prev_digit = false;
        } else {
            return {"", "invalid literal for int() with base 10: " + quoted_bytes(text)};
        }
    }
    if (digits.empty()) return {"", "invalid literal for int() with base 10: " + quoted_bytes(text)};
    if (digits.size() > kMaxIntStrDigits)
        return {"", fmt::format("Exceeds the limit ({} digits) for integer string conversion: value has {} digits",
                                kMaxIntStrDigits, digits.size())};
    const auto nz = digits.find_first_not_of('0');
    digits = nz == std::string::npos ? "0" : digits.substr(nz);
    if (negative && digits != "0") digits.insert(digits.begin(), '-');
    return {digits, ""};
}

std::string encode_long(bool negative, std::vector<unsigned char> mag) {
    while (!mag.empty() && mag.back() == 0) mag.pop_back();
    std::size_t nbits = 0;
    if (!mag.empty()) {
        unsigned top = mag.back();
        std::size_t bits = 0;
        while (top) {
            ++bits;
            top >>= 1;
        }
        nbits = (mag.size() - 1) * 8 + bits;
    }
    std::size_t nbytes = (nbits >> 3) + 1;
    mag.resize(nbytes, 0);
    if (negative) {
        negate(mag);
        if (nbytes > 1 && mag[nbytes - 1] == 0xFF && (mag[nbytes - 2] & 0x80u) != 0) --nbytes;
    }
    return std::string(reinterpret_cast<const char*>(mag.data()), nbytes);
}

}  // namespace sessionctl::pickle
