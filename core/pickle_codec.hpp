#pragma once

// Python's pickle, read safely and written byte-compatibly, for the values
// Django's cache backends store (docs/django-sessions.md §8.8): RedisCache, the
// memcached backends, FileBasedCache and DatabaseCache all keep
// pickle.dumps(session_dict, HIGHEST_PROTOCOL), and ≤4.2's PickleSerializer
// signs one.
//
// Where it lives: core/pickle_format.hpp (opcodes), core/pickle_reader.cpp,
// pickle_globals.cpp and pickle_graph.cpp (the unpickler, declared in
// core/pickle_unpickler.hpp), core/pickle_writer.cpp (the pickler), and the
// Python semantics both share: core/python_int, python_decimal,
// python_datetime and python_repr.
//
// Reading never executes anything. There is no code path that could: the
// decoder builds data only. GLOBAL / STACK_GLOBAL / INST resolve a (module,
// name) pair against a fixed whitelist of value constructors, and any other
// global (os.system, builtins.eval, subprocess.Popen, ...) is refused with
// PickleRefusedError the moment its opcode is read, before any later opcode
// (REDUCE, BUILD, ...) is looked at. REDUCE / NEWOBJ / OBJ / INST then map a
// whitelisted callable and its arguments to one of PyValue's kinds:
//
//   datetime.datetime / date / time / timedelta / timezone -> PyDateTime,
//       PyTimeDelta, PyTimezone (3.2's pytz._UTC / pytz.utc / pytz.UTC and
//       pytz._p zones; zoneinfo.ZoneInfo via builtins.getattr(ZoneInfo,
//       "_unpickle") exactly, nothing else through getattr)
//   decimal.Decimal -> PyDecimal (validated, kept as str(Decimal))
//   collections.OrderedDict -> PyOrderedDict
//   builtins set / frozenset / bytes / bytearray, _codecs.encode(s, "latin1")
//       (how protocols 0-2 spell bytes) -> PySet, PyBytes, PyByteArray
//   tuples -> PyTuple
//
// Dict keys: Python dicts may have non-str keys; PyDict cannot. Keys are
// converted exactly as json.dumps converts them (int -> "12", True -> "true",
// None -> "null", 1.5 -> "1.5", NaN -> "NaN"), and with Python's equality (1,
// 1.0 and True are one key; the first key spelling and the last value win).
// Any other key type (tuple, bytes, frozenset, datetime, ...) is refused with a
// PickleError naming the type, as json.dumps refuses it.
//
// Shared references (the memo) are resolved by copying: PyValue is a tree. A
// structure that contains itself is refused; the copies count against the
// limits, so a small pickle cannot expand into a huge value.
//
// Trailing bytes after STOP are ignored, as pickle.loads ignores them.

#include <cstddef>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

#include "core/datetime.hpp"
#include "core/pyvalue.hpp"

namespace sessionctl {

// Not a pickle we can read: truncated, malformed, over a limit, or holding a
// value with no PyValue form. The message says what and where.
class PickleError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// The pickle names a global outside the whitelist: "refusing to unpickle
// global os.system". Raised when the global is read, before anything else.
class PickleRefusedError : public PickleError {
public:
    PickleRefusedError(std::string global, const std::string& message)
        : PickleError(message), global_(std::move(global)) {}
    // "module.name" as the pickle spells it.
    [[nodiscard]] const std::string& global() const { return global_; }

private:
    std::string global_;
};

struct PickleLimits {
    // Bytes read; pickle_loads refuses a longer input outright.
    std::size_t max_input_size = 64u << 20;
    // Container nesting in the result (the top-level dict is 1), and open MARKs.
    // Above what Django can store: pickle.dumps on Python 3.11 raises
    // RecursionError near 500 levels (the JSON codec allows 2048 too).
    std::size_t max_depth = 2048;
    // Memo entries (PUT / BINPUT / LONG_BINPUT / MEMOIZE).
    std::size_t max_memo_size = 1u << 20;
    // Items in one list, tuple, set or dict.
    std::size_t max_container_size = 1u << 20;
    // Objects built while reading, and values in the result (a shared
    // reference counts each time it is copied); also bounds the stack.
    std::size_t max_values = 2'000'000;
    // Bytes of str/bytes data in the result, shared references counted each time.
    std::size_t max_result_bytes = 256u << 20;
    // Bytes of one LONG1/LONG4 integer (4096 bytes = 9865 decimal digits).
    std::size_t max_int_bytes = 4096;
};

// pickle.loads(bytes) for protocols 0-5 (see the top of this file).
[[nodiscard]] PyValue pickle_loads(std::string_view bytes, const PickleLimits& limits = {});

// The first pickle in `bytes` and how many bytes it took up to and including
// its STOP opcode, as pickle.load(file) leaves the file position. FileBasedCache
// files are pickle(expiry) followed by zlib(pickle(value)).
struct PickleLoadResult {
    PyValue value;
    std::size_t consumed = 0;
};
[[nodiscard]] PickleLoadResult pickle_load_prefix(std::string_view bytes, const PickleLimits& limits = {});

// pickle.dumps(value, 5) as CPython's C pickler writes it: FRAME (64 KiB
// frames, large str/bytes outside frames), MEMOIZE after each memoized object,
// SHORT_BINUNICODE/BINUNICODE(8), BININT1/BININT2/BININT/LONG1/LONG4, BINFLOAT,
// EMPTY_DICT + MARK/SETITEMS in batches of 1000, EMPTY_LIST + APPENDS likewise.
// Every PyValue kind is written (datetimes, sets, ... as the Python objects they
// stand for), so a session read from a cache can be written back unchanged.
//
// Object identity does not exist in a PyValue, so: equal str values are
// written once and then fetched from the memo (CPython does that for the same
// object, e.g. 1-character strings, interned keys and repeated literals), and
// lists and dicts are never shared. With that model the output is
// byte-identical to Python's for every cache vector. Throws PickleError for a
// value Python could not have held (an invalid datetime, a bad PyBigInt).
// protocol 4 (pickle.DEFAULT_PROTOCOL on Python 3.8-3.13, what django-redis
// writes) differs from 5 only for a bytearray; other protocols are refused.
[[nodiscard]] std::string pickle_dumps(const PyValue& value, int protocol = 5);

// ---- rendering

// Python's repr() of the value as CPython 3.12 writes it ("{'a': (1, 'x')}",
// "datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc)",
// "Decimal('1.10')", "OrderedDict({'a': 1})", "b'\x00'"). Which characters a
// str repr escapes follows str.isprintable() for the common ranges (controls,
// C1, surrogates, format and separator characters, private use); unassigned
// code points are shown as they are.
[[nodiscard]] std::string python_repr(const PyValue& value);

// value.isoformat(): "2024-01-02T03:04:05.600000+00:00", "2024-01-02",
// "03:04:05". When the zone's offset is not in the pickle (zoneinfo, pytz by
// key only) the wall time is followed by the key in brackets:
// "2024-01-02T03:04:05[Europe/Paris]".
[[nodiscard]] std::string python_isoformat(const PyDateTime& value);

// str(timedelta): "0:01:30", "1 day, 0:00:05.000003", "-1 day, 23:59:59".
[[nodiscard]] std::string python_str(const PyTimeDelta& value);

// str(tzinfo): "UTC", "UTC+01:00", the timezone's own name, or the zone key.
[[nodiscard]] std::string python_tzname(const PyTzInfo& tz);

// A datetime with a known (or no) offset as core's DateTime; nullopt for a date,
// a time, an offset with a fraction of a second, or a zone whose offset the
// pickle did not carry.
[[nodiscard]] std::optional<DateTime> to_core_datetime(const PyDateTime& value);

}  // namespace sessionctl
