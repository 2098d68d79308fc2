#include "core/base64.hpp"

#include <array>
#include <cstdint>
#include <optional>
#include <utility>

namespace sessionctl {
namespace {

constexpr std::string_view kStandard = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
constexpr std::string_view kUrlSafe = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

std::string encode(std::string_view data, std::string_view alphabet, bool pad) {
    std::string out;
    out.reserve((data.size() + 2) / 3 * 4);
    std::size_t i = 0;
    for (; i + 2 < data.size(); i += 3) {
        std::uint32_t n = (std::uint8_t(data[i]) << 16) | (std::uint8_t(data[i + 1]) << 8) | std::uint8_t(data[i + 2]);
        out += alphabet[(n >> 18) & 63];
        out += alphabet[(n >> 12) & 63];
        out += alphabet[(n >> 6) & 63];
        out += alphabet[n & 63];
    }
    std::size_t rest = data.size() - i;
    if (rest == 1) {
        std::uint32_t n = std::uint8_t(data[i]) << 16;
        out += alphabet[(n >> 18) & 63];
        out += alphabet[(n >> 12) & 63];
        if (pad) out += "==";
    } else if (rest == 2) {
        std::uint32_t n = (std::uint8_t(data[i]) << 16) | (std::uint8_t(data[i + 1]) << 8);
        out += alphabet[(n >> 18) & 63];
        out += alphabet[(n >> 12) & 63];
        out += alphabet[(n >> 6) & 63];
        if (pad) out += '=';
    }
    return out;
}

constexpr std::array<std::uint8_t, 256> make_table(bool url_safe) {
    std::array<std::uint8_t, 256> t{};
    for (auto& v : t) v = 0xff;
    for (std::size_t i = 0; i < kStandard.size(); ++i) t[std::uint8_t(kStandard[i])] = std::uint8_t(i);
    if (url_safe) {  // urlsafe_b64decode maps - and _ onto + and /, keeping + and / valid
        t[std::uint8_t('-')] = 62;
        t[std::uint8_t('_')] = 63;
    }
    return t;
}

constexpr auto kStandardTable = make_table(false);
constexpr auto kUrlSafeTable = make_table(true);

// CPython's binascii.a2b_base64 with strict_mode=False, step for step, on
// bytes: anything outside the alphabet (non-ASCII included) is skipped.
std::string a2b_base64(std::string_view text, const std::array<std::uint8_t, 256>& table) {
    std::string out;
    out.reserve(text.size() / 4 * 3 + 3);
    int quad_pos = 0;
    int pads = 0;
    unsigned left = 0;
    for (unsigned char c : text) {
        if (c == '=') {
            if (quad_pos >= 2 && quad_pos + ++pads >= 4) return out;  // padding ends the data
            continue;
        }
        std::uint8_t v = table[c];
        if (v >= 64) continue;  // junk is skipped in non-strict mode
        pads = 0;
        switch (quad_pos) {
            case 0:
                quad_pos = 1;
                left = v;
                break;
            case 1:
                quad_pos = 2;
                out += char((left << 2) | (v >> 4));
                left = v & 0x0f;
                break;
            case 2:
                quad_pos = 3;
                out += char((left << 4) | (v >> 2));
                left = v & 0x03;
                break;
            default:
                quad_pos = 0;
                out += char((left << 6) | v);
                left = 0;
                break;
        }
    }
    if (quad_pos == 1) throw Base64Error("invalid base64: number of data characters is 1 more than a multiple of 4");
    if (quad_pos != 0) throw Base64Error("invalid base64: incorrect padding");
    return out;
}

// The common case, a clean run of alphabet characters: four at a time, with
// the same result as a2b_base64 (a tail of 2 or 3 characters gives 1 or 2
// bytes; its spare bits are ignored, as non-strict mode does).
std::optional<std::string> decode_clean(std::string_view text, const std::array<std::uint8_t, 256>& table) {
    if (text.size() % 4 == 1) return std::nullopt;  // an error: the full path words it
    for (unsigned char c : text)
        if (table[c] >= 64) return std::nullopt;
    std::string out(text.size() / 4 * 3 + (text.size() % 4 == 0 ? 0 : text.size() % 4 - 1), '\0');
    const auto* in = reinterpret_cast<const unsigned char*>(text.data());
    std::size_t i = 0, o = 0;
    for (; i + 4 <= text.size(); i += 4, o += 3) {
        const std::uint32_t n = (std::uint32_t{table[in[i]]} << 18) | (std::uint32_t{table[in[i + 1]]} << 12) |
                                (std::uint32_t{table[in[i + 2]]} << 6) | table[in[i + 3]];
        out[o] = char(n >> 16);
        out[o + 1] = char((n >> 8) & 0xff);
        out[o + 2] = char(n & 0xff);
    }
    if (text.size() - i >= 2) {
        std::uint32_t n = (std::uint32_t{table[in[i]]} << 18) | (std::uint32_t{table[in[i + 1]]} << 12);
        if (text.size() - i == 3) n |= std::uint32_t{table[in[i + 2]]} << 6;
        out[o++] = char(n >> 16);
        if (text.size() - i == 3) out[o] = char((n >> 8) & 0xff);
    }
    return out;
}

}  // namespace

std::string b64url_encode_nopad(std::string_view data) { return encode(data, kUrlSafe, false); }

std::string b64_encode(std::string_view data) { return encode(data, kStandard, true); }

std::string b64url_decode_django(std::string_view text) {
    if (auto clean = decode_clean(text, kUrlSafeTable)) return std::move(*clean);
    std::string padded(text);
    padded.append((4 - text.size() % 4) % 4, '=');
    return a2b_base64(padded, kUrlSafeTable);
}

std::string b64_decode_lenient(std::string_view text) { return a2b_base64(text, kStandardTable); }

}  // namespace sessionctl
