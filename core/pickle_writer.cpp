#include "core/pickle_codec.hpp"

// pickle.dumps(value, 5) as CPython 3.11/3.12's C pickler (Modules/_pickle.c)
// writes it: its output buffer and framing (_Pickler_Write,
// _Pickler_CommitFrame, the opcode boundary at the start of every save(),
// large data outside frames) and its save_* functions for the types a
// session can hold. The byte-identical output is what lets a session read
// from a cache be written back unchanged.

#include <cstdint>
#include <cstring>
#include <map>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_map>
#include <variant>
#include <vector>

#include "core/pickle_format.hpp"
#include "core/python_datetime.hpp"
#include "core/python_decimal.hpp"
#include "core/python_int.hpp"
#include "core/python_repr.hpp"
#include "util/integer.hpp"
#include "util/utf8.hpp"

namespace sessionctl {
namespace pickle {
namespace {

struct TzMemoEntry {
    PyTzInfo tz;
    std::uint32_t index;
};

class Pickler {
public:
    explicit Pickler(int protocol) : protocol_(protocol) {}

    std::string dump(const PyValue& value) {
        out_.assign({'\x80', static_cast<char>(protocol_)});
        framing_ = true;
        save(value);
        write_op(op::STOP);
        commit_frame();
        return std::move(out_);
    }

private:
    const int protocol_;  // 4 or 5: they differ only in how a bytearray is written
    std::string out_;
    bool framing_ = false;
    std::ptrdiff_t frame_start_ = -1;
    std::uint32_t memo_size_ = 0;
    // Keys view the value being written (or static names), which outlive the dump.
    std::unordered_map<std::string_view, std::uint32_t> str_memo_;  // str values, module names included
    std::map<std::string, std::uint32_t> global_memo_;              // "module\nname"
    std::map<std::string, std::uint32_t> bytes_memo_;               // b"" and 1-byte bytes (CPython singletons)
    std::vector<TzMemoEntry> tz_memo_;

    // ---- output buffer and framing (_Pickler_Write & co)

    void write(std::string_view s) {
        if (framing_ && frame_start_ < 0) {
            frame_start_ = static_cast<std::ptrdiff_t>(out_.size());
            out_.append(kFrameHeaderSize, '\xfe');
        }
        out_.append(s);
    }
    void write_op(unsigned char c) { write(std::string_view(reinterpret_cast<const char*>(&c), 1)); }
    void write_op_le(unsigned char c, std::uint64_t v, std::size_t n) {
        char buf[9];
        write(op_le(buf, c, v, n));
    }
    // An opcode and its n-byte little-endian argument, in `buf`.
    static std::string_view op_le(char (&buf)[9], unsigned char c, std::uint64_t v, std::size_t n) {
        buf[0] = static_cast<char>(c);
        for (std::size_t i = 0; i < n; ++i) buf[1 + i] = static_cast<char>((v >> (8 * i)) & 0xFF);
        return std::string_view(buf, n + 1);
    }
    // The opcode that introduces `size` bytes of str or bytes data, with the
    // size: the 1-byte form up to 255, the 8-byte form past 4 GiB, else the
    // 4-byte form (save_unicode, save_bytes_data).
    static std::string_view sized_op(char (&buf)[9], unsigned char op1, unsigned char op4, unsigned char op8,
                                     std::size_t size) {
        if (size <= 0xFF) return op_le(buf, op1, size, 1);
        if (size > 0xFFFFFFFFu) return op_le(buf, op8, size, 8);
        return op_le(buf, op4, size, 4);
    }
    void commit_frame() {
        if (!framing_ || frame_start_ < 0) return;
        const auto start = static_cast<std::size_t>(frame_start_);
        const std::size_t len = out_.size() - start - kFrameHeaderSize;
        if (len >= kFrameSizeMin) {
            out_[start] = static_cast<char>(op::FRAME);
            for (std::size_t i = 0; i < 8; ++i) out_[start + 1 + i] = static_cast<char>((len >> (8 * i)) & 0xFF);
        } else {
            out_.erase(start, kFrameHeaderSize);
        }
        frame_start_ = -1;
    }
    // At the start of every save(): close the frame once it reached 64 KiB.
    void boundary() {
        if (!framing_ || frame_start_ < 0) return;
        if (out_.size() - static_cast<std::size_t>(frame_start_) - kFrameHeaderSize >= kFrameSizeTarget) commit_frame();
    }
    // A header and data that bypass the frame when the data is 64 KiB or more.
    void write_bytes(std::string_view header, std::string_view data) {
        const bool bypass = data.size() >= kFrameSizeTarget;
        const bool framing = framing_;
        if (bypass) {
            commit_frame();
            framing_ = false;
        }
        write(header);
        write(data);
        framing_ = framing;
    }
    std::uint32_t memo_put() {
        write_op(op::MEMOIZE);
        return memo_size_++;
    }
    void memo_get(std::uint32_t index) {
        if (index < 256) write_op_le(op::BINGET, index, 1);
        else write_op_le(op::LONG_BINGET, index, 4);
    }

    // ---- atoms

    void save_int(std::int64_t v) {
        if (v >= 0 && v <= 0xFF) {
            write_op_le(op::BININT1, static_cast<std::uint64_t>(v), 1);
        } else if (v >= 0 && v <= 0xFFFF) {
            write_op_le(op::BININT2, static_cast<std::uint64_t>(v), 2);
        } else if (v >= -0x80000000LL && v <= 0x7FFFFFFFLL) {
            write_op_le(op::BININT, static_cast<std::uint64_t>(v) & 0xFFFFFFFFu, 4);
        } else {
            const bool negative = v < 0;
            std::uint64_t mag = negative ? ~static_cast<std::uint64_t>(v) + 1 : static_cast<std::uint64_t>(v);
            std::vector<unsigned char> bytes;
            for (; mag; mag >>= 8) bytes.push_back(static_cast<unsigned char>(mag & 0xFF));
            save_long_bytes(encode_long(negative, std::move(bytes)));
        }
    }
    void save_bigint(const PyBigInt& big) {
        std::string_view d = big.decimal;
        const bool negative = !d.empty() && d.front() == '-';
        if (negative) d.remove_prefix(1);
        if (d.empty() || d.find_first_not_of("0123456789") != std::string_view::npos)
            throw PickleError("cannot pickle an integer written as " + quoted_bytes(big.decimal));
        PyValue small = int_from_decimal(big.decimal);
        if (small.is_int()) return save_int(small.as_int());
        std::vector<std::uint32_t> limbs = decimal_to_limbs(d);
        std::vector<unsigned char> bytes;
        for (std::uint32_t limb : limbs)
            for (int k = 0; k < 4; ++k) bytes.push_back(static_cast<unsigned char>((limb >> (8 * k)) & 0xFF));
        save_long_bytes(encode_long(negative, std::move(bytes)));
    }
    void save_long_bytes(const std::string& bytes) {
        if (bytes.size() < 256) write_op_le(op::LONG1, bytes.size(), 1);
        else write_op_le(op::LONG4, bytes.size(), 4);
        write(bytes);
    }
    void save_float(double d) {
        std::uint64_t u;
        std::memcpy(&u, &d, sizeof u);
        char buf[9];
        buf[0] = static_cast<char>(op::BINFLOAT);
        for (int i = 0; i < 8; ++i) buf[1 + i] = static_cast<char>((u >> (8 * (7 - i))) & 0xFF);
        write(std::string_view(buf, 9));
    }

    // ---- str and bytes

    // save() of a str. `shared`: equal values are one object (see pickle_dumps in core/pickle_codec.hpp);
    // otherwise a fresh object every time.
    void save_str(std::string_view s, bool shared) {
        boundary();
        if (shared) {
            auto it = str_memo_.find(s);
            if (it != str_memo_.end()) return memo_get(it->second);
        }
        if (invalid_utf8_at(s) != std::string_view::npos)
            throw PickleError("cannot pickle a str that is not valid UTF-8: " + quoted_bytes(s));
        char header[9];
        write_bytes(sized_op(header, op::SHORT_BINUNICODE, op::BINUNICODE, op::BINUNICODE8, s.size()), s);
        const std::uint32_t index = memo_put();
        if (shared) str_memo_.emplace(s, index);
    }

    void save_bytes(std::string_view data, bool array) {
        boundary();
        const bool singleton = !array && data.size() <= 1;
        if (singleton) {
            auto it = bytes_memo_.find(std::string(data));
            if (it != bytes_memo_.end()) return memo_get(it->second);
        }
        char header[9];
        write_bytes(array ? op_le(header, op::BYTEARRAY8, data.size(), 8)
                          : sized_op(header, op::SHORT_BINBYTES, op::BINBYTES, op::BINBYTES8, data.size()),
                    data);
        const std::uint32_t index = memo_put();
        if (singleton) bytes_memo_.emplace(std::string(data), index);
    }

    // Protocol 5 has an opcode for it; 4 reduces it to bytearray(bytes)
    // (bytearray() when empty), as CPython's save_bytearray does.
    void save_bytearray(std::string_view data) {
        if (protocol_ >= 5) return save_bytes(data, true);
        save_reduce("builtins", "bytearray", data.empty() ? 0 : 1, [&] { save_bytes(data, false); });
        memo_put();
    }

    // ---- containers

    // MARK, up to 1000 items, `batch_op`, as often as needed. CPython's loops
    // differ in when they stop: batch_list_exact once every item is written;
    // batch_dict_exact and save_set once a batch was not full, so that a size
    // that is a multiple of 1000 ends with an empty batch (`empty_last_batch`).
    template <class SaveItem>
    void write_batches(std::size_t count, unsigned char batch_op, bool empty_last_batch, SaveItem&& save_item) {
        std::size_t pos = 0;
        std::size_t batch = 0;
        do {
            batch = 0;
            write_op(op::MARK);
            while (pos < count) {
                save_item(pos++);
                if (++batch == kBatchSize) break;
            }
            write_op(batch_op);
        } while (empty_last_batch ? batch == kBatchSize : pos < count);
    }

    // A dict item: the key (a shared str, see save_str), then the value.
    void save_entry(const PyDictEntry& entry) {
        save_str(entry.key, true);
        save(entry.value);
    }

    // batch_list_exact and batch_dict_exact: a single item is written with
    // `single_op` (APPEND, SETITEM), more in batches (see write_batches).
    template <class SaveItem>
    void batch_exact(std::size_t count, unsigned char single_op, unsigned char batch_op, bool empty_last_batch,
                     SaveItem&& save_item) {
        if (count == 1) {
            save_item(0);
            write_op(single_op);
            return;
        }
        write_batches(count, batch_op, empty_last_batch, save_item);
    }

    void batch_list(const PyList& items) {
        batch_exact(items.size(), op::APPEND, op::APPENDS, false, [&](std::size_t i) { save(items[i]); });
    }

    // A dict: with an empty trailing batch when the size is a multiple of 1000.
    void batch_dict_exact(const PyDict& dict) {
        const auto& entries = dict.entries();
        batch_exact(entries.size(), op::SETITEM, op::SETITEMS, true, [&](std::size_t i) { save_entry(entries[i]); });
    }

    // batch_dict over an items iterator (what save_reduce uses for an
    // OrderedDict): no trailing empty batch, SETITEM for a lone last item.
    void batch_dict_iter(const PyDict& dict) {
        const auto& entries = dict.entries();
        std::size_t pos = 0;
        while (pos < entries.size()) {
            if (entries.size() - pos == 1) {
                save_entry(entries[pos]);
                write_op(op::SETITEM);
                return;
            }
            write_op(op::MARK);
            std::size_t n = 0;
            while (pos < entries.size() && n < kBatchSize) {
                save_entry(entries[pos++]);
                ++n;
            }
            write_op(op::SETITEMS);
            if (n < kBatchSize) return;
        }
    }

    void save_tuple_items(const PyList& items) {
        boundary();
        if (items.empty()) {
            write_op(op::EMPTY_TUPLE);
            return;
        }
        if (items.size() <= 3) {
            for (const auto& item : items) save(item);
            write_op(static_cast<unsigned char>(op::TUPLE1 + items.size() - 1));
        } else {
            write_op(op::MARK);
            for (const auto& item : items) save(item);
            write_op(op::TUPLE);
        }
        memo_put();
    }

    void save_set(const PySet& set) {
        if (set.frozen) {
            write_op(op::MARK);
            for (const auto& item : set.items) save(item);
            write_op(op::FROZENSET);
            memo_put();
            return;
        }
        write_op(op::EMPTY_SET);
        memo_put();
        if (set.items.empty()) return;
        write_batches(set.items.size(), op::ADDITEMS, true, [&](std::size_t i) { save(set.items[i]); });
    }

    // ---- objects built by REDUCE

    // save_global for protocol >= 4: module and qualified name, STACK_GLOBAL,
    // memoized. Module names are the shared str objects; the qualified name
    // is a fresh one (as for CPython's C types).
    void save_global(std::string_view module, std::string_view name) {
        boundary();
        const std::string key = std::string(module) + "\n" + std::string(name);
        auto it = global_memo_.find(key);
        if (it != global_memo_.end()) return memo_get(it->second);
        save_str(module, true);
        save_str(name, false);
        write_op(op::STACK_GLOBAL);
        global_memo_.emplace(key, memo_put());
    }

    // An object pickled as REDUCE(callable, args); `args` writes the tuple's items.
    template <class Args>
    void save_reduce(std::string_view module, std::string_view name, std::size_t nargs, Args&& args) {
        save_global(module, name);
        boundary();  // save(argtup)
        if (nargs == 0) {
            write_op(op::EMPTY_TUPLE);
        } else {
            if (nargs > 3) write_op(op::MARK);
            args();
            write_op(nargs > 3 ? op::TUPLE : static_cast<unsigned char>(op::TUPLE1 + nargs - 1));
            memo_put();
        }
        write_op(op::REDUCE);
    }

    void save_timedelta(const PyTimeDelta& td) {
        boundary();
        save_reduce("datetime", "timedelta", 3, [&] {
            boundary();
            save_int(td.days);
            boundary();
            save_int(td.seconds);
            boundary();
            save_int(td.microseconds);
        });
        memo_put();
    }

    // A time zone written before is one object in Python: fetched from the memo.
    bool tz_from_memo(const PyTzInfo& tz) {
        for (const auto& e : tz_memo_) {
            if (e.tz != tz) continue;
            memo_get(e.index);
            return true;
        }
        return false;
    }

    void save_tz(const PyTzInfo& tz) {
        boundary();
        if (tz_from_memo(tz)) return;
        switch (tz.kind) {
            case PyTzInfo::Kind::fixed: {
                if (tz.utcoffset_us <= -kMicrosPerDay || tz.utcoffset_us >= kMicrosPerDay)
                    throw PickleError("cannot pickle a timezone offset of a day or more");
                save_reduce("datetime", "timezone", tz.has_name ? 2 : 1, [&] {
                    save_timedelta(timedelta_from_micros(tz.utcoffset_us));
                    if (tz.has_name) save_str(tz.name, false);
                });
                break;
            }
            case PyTzInfo::Kind::pytz_utc: save_reduce("pytz", "_UTC", 0, [] {}); break;
            case PyTzInfo::Kind::pytz_zone:
                save_reduce("pytz", "_p", tz.has_utcoffset ? 4 : 1, [&] {
                    save_str(tz.key, false);
                    if (!tz.has_utcoffset) return;
                    boundary();
                    save_int(floor_div(tz.utcoffset_us, kMicrosPerSecond));
                    boundary();
                    save_int(floor_div(tz.dst_us, kMicrosPerSecond));
                    save_str(tz.name, false);
                });
                break;
            case PyTzInfo::Kind::zoneinfo: throw std::logic_error("zoneinfo goes through save_zoneinfo");
        }
        tz_memo_.push_back(TzMemoEntry{tz, memo_put()});
    }

    void save_zoneinfo(const PyTzInfo& tz) {
        boundary();
        if (tz_from_memo(tz)) return;
        // save(bound method): REDUCE(getattr, (ZoneInfo, "_unpickle")), memoized.
        boundary();
        save_reduce("builtins", "getattr", 2, [&] {
            save_global("zoneinfo", "ZoneInfo");
            save_str("_unpickle", false);  // a fresh str each time, as Python writes it
        });
        memo_put();
        boundary();  // save(args)
        save_str(tz.key, false);
        boundary();
        save_int(tz.zoneinfo_cached ? 1 : 0);
        write_op(op::TUPLE2);
        memo_put();
        write_op(op::REDUCE);
        tz_memo_.push_back(TzMemoEntry{tz, memo_put()});
    }

    void save_tzinfo(const PyTzInfoPtr& tz) {
        if (!tz) throw PickleError("cannot pickle a timezone without its data");
        if (tz->kind == PyTzInfo::Kind::zoneinfo) save_zoneinfo(*tz);
        else save_tz(*tz);
    }

    void save_datetime(const PyDateTime& d) {
        // datetime, date and time reduce to (class, (state[, tzinfo])). The
        // state holds the date as year (2 bytes, big-endian), month and day,
        // then the time as hour, minute, second and microsecond (3 bytes,
        // big-endian); fold is the top bit of the month (datetime) or of the
        // hour (time).
        const bool has_date = d.kind != PyDateTime::Kind::time;
        const bool has_time = d.kind != PyDateTime::Kind::date;
        const unsigned date_fold = d.kind == PyDateTime::Kind::datetime ? d.fold : 0;
        const unsigned time_fold = d.kind == PyDateTime::Kind::time ? d.fold : 0;
        std::string state;
        if (has_date)
            state = {static_cast<char>(d.year >> 8), static_cast<char>(d.year & 0xFF),
                     static_cast<char>(d.month | (date_fold << 7)), static_cast<char>(d.day)};
        if (has_time)
            state += {static_cast<char>(d.hour | (time_fold << 7)),
                      static_cast<char>(d.minute),
                      static_cast<char>(d.second),
                      static_cast<char>((d.microsecond >> 16) & 0xFF),
                      static_cast<char>((d.microsecond >> 8) & 0xFF),
                      static_cast<char>(d.microsecond & 0xFF)};
        const std::string_view name = !has_time ? "date" : !has_date ? "time" : "datetime";
        const bool aware = d.kind != PyDateTime::Kind::date && d.tzinfo;
        save_reduce("datetime", name, aware ? 2 : 1, [&] {
            save_bytes(state, false);
            if (aware) save_tzinfo(d.tzinfo);
        });
        memo_put();
    }

    // ---- dispatch

    void save(const PyValue& v) {
        boundary();
        std::visit(
            [&](const auto& x) {
                using T = std::decay_t<decltype(x)>;
                if constexpr (std::is_same_v<T, std::monostate>) write_op(op::NONE);
                else if constexpr (std::is_same_v<T, bool>) write_op(x ? op::NEWTRUE : op::NEWFALSE);
                else if constexpr (std::is_same_v<T, std::int64_t>) save_int(x);
                else if constexpr (std::is_same_v<T, PyBigInt>) save_bigint(x);
                else if constexpr (std::is_same_v<T, double>) save_float(x);
                else if constexpr (std::is_same_v<T, std::string>) save_str(x, true);
                else if constexpr (std::is_same_v<T, PyList>) {
                    write_op(op::EMPTY_LIST);
                    memo_put();
                    if (!x.empty()) batch_list(x);
                } else if constexpr (std::is_same_v<T, PyDict>) {
                    write_op(op::EMPTY_DICT);
                    memo_put();
                    if (!x.empty()) batch_dict_exact(x);
                } else if constexpr (std::is_same_v<T, PyTuple>) save_tuple_items(x.items);
                else if constexpr (std::is_same_v<T, PySet>) save_set(x);
                else if constexpr (std::is_same_v<T, PyBytes>) save_bytes(x.data, false);
                else if constexpr (std::is_same_v<T, PyByteArray>) save_bytearray(x.data);
                else if constexpr (std::is_same_v<T, PyDecimal>) {
                    if (!decimal_canonical(x.text)) throw PickleError("cannot pickle Decimal " + quoted_bytes(x.text));
                    save_reduce("decimal", "Decimal", 1, [&] { save_str(x.text, false); });
                    memo_put();
                } else if constexpr (std::is_same_v<T, PyDateTime>) save_datetime(x);
                else if constexpr (std::is_same_v<T, PyTimeDelta>) save_timedelta(x);
                else if constexpr (std::is_same_v<T, PyTimezone>) save_tzinfo(x.info);
                else if constexpr (std::is_same_v<T, PyOrderedDict>) {
                    save_reduce("collections", "OrderedDict", 0, [] {});
                    memo_put();
                    batch_dict_iter(x.dict);
                }
            },
            v.variant());
    }
};

}  // namespace
}  // namespace pickle

std::string pickle_dumps(const PyValue& value, int protocol) {
    if (protocol != 4 && protocol != 5)
        throw PickleError("pickle protocol " + std::to_string(protocol) + " is not written (4 or 5)");
    return pickle::Pickler(protocol).dump(value);
}

}  // namespace sessionctl
