#include "backends/cache/msgpack_codec.hpp"

#include <msgpack/pack.h>

#include <cstdint>
#include <cstring>
#include <limits>
#include <string>

#include <fmt/format.h>

#include "util/utf8.hpp"

namespace sessionctl {
namespace {

// msgpack-python's unpacker stack: 1024 nested arrays/maps read, 1025 not.
constexpr std::size_t kMsgpackMaxDepth = 1024;
// msgpack-python's packer: Packer._pack's default nest_limit (511 levels).
constexpr int kMsgpackPackNestLimit = 511;

// The offset of the first byte of `s` that is not strict UTF-8; npos if none.
std::size_t strict_utf8_error_at(std::string_view s) {
    const auto* p = reinterpret_cast<const unsigned char*>(s.data());
    const auto* const end = p + s.size();
    for (const auto* q = p; q < end;) {
        if (*q < 0x80) {
            ++q;
            continue;
        }
        std::uint32_t cp = 0;
        const std::size_t len = utf8_sequence_strict(q, end, cp);
        if (len == 0) return static_cast<std::size_t>(q - p);
        q += len;
    }
    return std::string_view::npos;
}

// ---- dumps

int append_to_string(void* data, const char* buf, size_t len) {
    static_cast<std::string*>(data)->append(buf, len);
    return 0;
}

class MsgpackWriter {
public:
    MsgpackWriter() { msgpack_packer_init(&pk_, &out_, append_to_string); }

    std::string take() { return std::move(out_); }

    void pack(const PyValue& value, int nest_limit) {
        if (nest_limit < 0) throw MsgpackEncodeError("recursion limit exceeded.");
        const auto& v = value.variant();
        if (value.is_none()) msgpack_pack_nil(&pk_);
        else if (value.is_bool()) value.as_bool() ? msgpack_pack_true(&pk_) : msgpack_pack_false(&pk_);
        else if (value.is_int()) msgpack_pack_int64(&pk_, value.as_int());
        else if (value.is_bigint()) pack_bigint(value.as_bigint());
        else if (value.is_float()) msgpack_pack_double(&pk_, value.as_float());
        else if (value.is_str()) pack_str(value.as_str());
        else if (value.is_list()) pack_array(value.as_list(), nest_limit);
        else if (const auto* t = std::get_if<PyTuple>(&v)) pack_array(t->items, nest_limit);
        else if (value.is_dict()) pack_map(value.as_dict(), nest_limit);
        else if (const auto* od = std::get_if<PyOrderedDict>(&v)) pack_map(od->dict, nest_limit);
        else if (const auto* b = std::get_if<PyBytes>(&v)) pack_bin(b->data);
        else if (const auto* ba = std::get_if<PyByteArray>(&v)) pack_bin(ba->data);
        else throw MsgpackEncodeError(fmt::format("can not serialize '{}' object", value.type_name()));
    }

private:
    // Python ints in [-2**63, 2**64) are packed; others raise OverflowError.
    // A PyBigInt is outside int64, so only 2**63..2**64-1 fits (as uint64).
    void pack_bigint(const PyBigInt& big) {
        const std::string& dec = big.decimal;
        std::uint64_t v = 0;
        bool fits = !dec.empty() && dec[0] != '-' && dec.size() <= 20;
        for (char c : dec) {
            if (!fits) break;
            const auto digit = static_cast<std::uint64_t>(c - '0');
            if (v > (std::numeric_limits<std::uint64_t>::max() - digit) / 10) fits = false;
            else v = v * 10 + digit;
        }
        if (!fits) throw MsgpackEncodeError("Integer value out of range");
        msgpack_pack_uint64(&pk_, v);
    }

    void pack_str(const std::string& s) {
        if (const auto at = strict_utf8_error_at(s); at != std::string_view::npos)
            throw MsgpackEncodeError(
                fmt::format("'utf-8' codec can't encode a surrogate or invalid byte at position {}", at));
        msgpack_pack_str(&pk_, s.size());
        msgpack_pack_str_body(&pk_, s.data(), s.size());
    }

    void pack_bin(const std::string& b) {
        msgpack_pack_bin(&pk_, b.size());
        msgpack_pack_bin_body(&pk_, b.data(), b.size());
    }

    void pack_array(const PyList& items, int nest_limit) {
        msgpack_pack_array(&pk_, items.size());
        for (const auto& item : items) pack(item, nest_limit - 1);
    }

    void pack_map(const PyDict& dict, int nest_limit) {
        msgpack_pack_map(&pk_, dict.size());
        for (const auto& entry : dict) {
            pack_str(entry.key);
            pack(entry.value, nest_limit - 1);
        }
    }

    std::string out_;
    msgpack_packer pk_{};
};

// ---- loads

class MsgpackReader {
public:
    explicit MsgpackReader(std::string_view in) : p_(in.data()), end_(in.data() + in.size()) {}

    PyValue document() {
        PyValue v = value(0);
        if (p_ != end_) throw MsgpackError("unpack(b) received extra data");
        return v;
    }

private:
    const char* p_;
    const char* const end_;

    [[noreturn]] static void truncated() { throw MsgpackError("Unpack failed: incomplete input"); }

    std::string_view take(std::uint64_t n) {
        if (static_cast<std::uint64_t>(end_ - p_) < n) truncated();
        std::string_view s(p_, static_cast<std::size_t>(n));
        p_ += n;
        return s;
    }

    std::uint64_t big_endian(int bytes) {
        const std::string_view b = take(static_cast<std::uint64_t>(bytes));
        std::uint64_t v = 0;
        for (char c : b) v = v << 8 | static_cast<unsigned char>(c);
        return v;
    }

    std::string str_body(std::uint64_t n) {
        const std::string_view s = take(n);
        if (const auto at = strict_utf8_error_at(s); at != std::string_view::npos)
            throw MsgpackError(fmt::format("'utf-8' codec can't decode byte 0x{:02x} in position {}",
                                           static_cast<unsigned char>(s[at]), at));
        return std::string(s);
    }

    static PyValue unsigned_value(std::uint64_t v) {
        if (v <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
            return PyValue(static_cast<std::int64_t>(v));
        return PyValue(PyBigInt{std::to_string(v)});
    }

    template <class Int>
    PyValue signed_value(int bytes) {
        return PyValue(static_cast<std::int64_t>(static_cast<Int>(big_endian(bytes))));
    }

    static double float32(std::uint64_t bits) {
        const auto b = static_cast<std::uint32_t>(bits);
        float f;
        std::memcpy(&f, &b, sizeof f);
        return f;
    }

    static double float64(std::uint64_t bits) {
        double d;
        std::memcpy(&d, &bits, sizeof d);
        return d;
    }

    // Each item takes at least one byte: a count beyond what is left is
    // truncated input, refused before anything is reserved for it.
    void check_count(std::uint64_t n) const {
        if (n > static_cast<std::uint64_t>(end_ - p_)) truncated();
    }

    PyValue array(std::uint64_t n, std::size_t depth) {
        check_count(n);
        if (depth + 1 > kMsgpackMaxDepth) throw MsgpackError("Unpack failed: nesting deeper than 1024 levels");
        PyList items;
        items.reserve(static_cast<std::size_t>(n));
        for (std::uint64_t i = 0; i < n; ++i) items.push_back(value(depth + 1));
        return PyValue(std::move(items));
    }

    PyValue map(std::uint64_t n, std::size_t depth) {
        check_count(n);
        if (depth + 1 > kMsgpackMaxDepth) throw MsgpackError("Unpack failed: nesting deeper than 1024 levels");
        PyDict dict;
        for (std::uint64_t i = 0; i < n; ++i) {
            PyValue key = value(depth + 1);
            if (!key.is_str()) {
                // strict_map_key: str and bytes only; a bytes key has no
                // place in a PyDict (str keys, like JSON's).
                const char* type = key.holds<PyBytes>() ? "bytes" : key.type_name();
                throw MsgpackError(fmt::format("{} is not allowed for map key", type));
            }
            PyValue item = value(depth + 1);
            dict.set(std::move(key.get<std::string>()), std::move(item));
        }
        return PyValue(std::move(dict));
    }

    [[noreturn]] static void ext(std::int64_t code) {
        throw MsgpackError(code == -1 ? std::string("msgpack Timestamp (ext type -1) has no session value form")
                                      : fmt::format("msgpack ExtType (code {}) has no session value form", code));
    }

    PyValue value(std::size_t depth) {
        if (p_ == end_) truncated();
        const auto b = static_cast<unsigned char>(*p_++);
        if (b <= 0x7f) return PyValue(static_cast<std::int64_t>(b));
        if (b >= 0xe0) return PyValue(static_cast<std::int64_t>(static_cast<std::int8_t>(b)));
        if (b <= 0x8f) return map(b & 0x0f, depth);
        if (b <= 0x9f) return array(b & 0x0f, depth);
        if (b <= 0xbf) return PyValue(str_body(b & 0x1f));
        switch (b) {
            case 0xc0: return PyValue();
            case 0xc2: return PyValue(false);
            case 0xc3: return PyValue(true);
            case 0xc4: return PyValue(PyBytes{std::string(take(big_endian(1)))});
            case 0xc5: return PyValue(PyBytes{std::string(take(big_endian(2)))});
            case 0xc6: return PyValue(PyBytes{std::string(take(big_endian(4)))});
            case 0xc7:
            case 0xc8:
            case 0xc9: {
                const std::uint64_t n = big_endian(b == 0xc7 ? 1 : b == 0xc8 ? 2 : 4);
                const auto code = static_cast<std::int8_t>(big_endian(1));
                (void)take(n);
                ext(code);
            }
            case 0xca: return PyValue(float32(big_endian(4)));
            case 0xcb: return PyValue(float64(big_endian(8)));
            case 0xcc: return unsigned_value(big_endian(1));
            case 0xcd: return unsigned_value(big_endian(2));
            case 0xce: return unsigned_value(big_endian(4));
            case 0xcf: return unsigned_value(big_endian(8));
            case 0xd0: return signed_value<std::int8_t>(1);
            case 0xd1: return signed_value<std::int16_t>(2);
            case 0xd2: return signed_value<std::int32_t>(4);
            case 0xd3: return signed_value<std::int64_t>(8);
            case 0xd4:
            case 0xd5:
            case 0xd6:
            case 0xd7:
            case 0xd8: {
                const auto code = static_cast<std::int8_t>(big_endian(1));
                (void)take(std::uint64_t{1} << (b - 0xd4));
                ext(code);
            }
            case 0xd9: return PyValue(str_body(big_endian(1)));
            case 0xda: return PyValue(str_body(big_endian(2)));
            case 0xdb: return PyValue(str_body(big_endian(4)));
            case 0xdc: return array(big_endian(2), depth);
            case 0xdd: return array(big_endian(4), depth);
            case 0xde: return map(big_endian(2), depth);
            case 0xdf: return map(big_endian(4), depth);
            default: throw MsgpackError(fmt::format("Unpack failed: byte 0x{:02x} is not a msgpack type", b));
        }
    }
};

}  // namespace

std::string msgpack_dumps(const PyValue& value) {
    MsgpackWriter writer;
    writer.pack(value, kMsgpackPackNestLimit);
    return writer.take();
}

PyValue msgpack_loads(std::string_view bytes) { return MsgpackReader(bytes).document(); }

}  // namespace sessionctl
