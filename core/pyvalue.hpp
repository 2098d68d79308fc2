#pragma once

// The values a Django session can hold, modelled on Python's own types so that a
// decoded session re-encodes to Django's exact bytes.
//
// Why not nlohmann::json as the model: Python integers are unbounded (2**70 is a
// valid session value), NaN/Infinity are written as bare tokens, dicts keep
// insertion order with "last duplicate wins, first position kept", and strings may
// hold lone surrogates ("\ud800" is legal in Python's json). nlohmann cannot hold
// all of these; it is still used for configuration and for --json output.

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace sessionctl {

class PyValue;
struct PyDictEntry;

using PyList = std::vector<PyValue>;

// An integer outside int64: kept as its canonical decimal text ("-" then digits,
// no leading zeros), which is all Django ever does with one: carry it through.
struct PyBigInt {
    std::string decimal;
    friend bool operator==(const PyBigInt&, const PyBigInt&) = default;
};

// A Python dict with str keys. Keys are UTF-8 (WTF-8 for lone surrogates).
// Insertion order is kept; assigning an existing key keeps its position.
class PyDict {
public:
    // Special members are defined below PyDictEntry: the entry type is
    // incomplete here, and some compilers instantiate eagerly.
    PyDict();
    ~PyDict();
    PyDict(const PyDict&);
    PyDict(PyDict&&) noexcept;
    PyDict& operator=(const PyDict&);
    PyDict& operator=(PyDict&&) noexcept;
    PyDict(std::initializer_list<PyDictEntry> entries);

    [[nodiscard]] std::size_t size() const;
    [[nodiscard]] bool empty() const;
    [[nodiscard]] bool contains(std::string_view key) const;
    // nullptr when absent.
    [[nodiscard]] const PyValue* find(std::string_view key) const;
    [[nodiscard]] PyValue* find(std::string_view key);
    // Python's d[key] = value.
    void set(std::string key, PyValue value);
    // Appends an entry whose key the caller has checked is absent, without
    // searching (set() is linear): for decoders that track keys themselves.
    void append_absent(std::string key, PyValue value);
    // Returns true when the key was there.
    bool erase(std::string_view key);
    void clear();

    [[nodiscard]] const std::vector<PyDictEntry>& entries() const { return entries_; }
    [[nodiscard]] std::vector<PyDictEntry>::const_iterator begin() const;
    [[nodiscard]] std::vector<PyDictEntry>::const_iterator end() const;

    // Python dict equality: same keys and values, order ignored.
    friend bool operator==(const PyDict& a, const PyDict& b);

private:
    std::vector<PyDictEntry> entries_;
};

// Python values outside JSON's model. Cache backends pickle the session dict, so
// a session read from a cache may hold them; core/pickle_codec decodes the
// whitelisted kinds into these types (by building data, never by running code).
// No other reader produces them. json_dumps writes a tuple as a list and an
// OrderedDict as an object (as json.dumps does) and refuses the others with
// "Object of type X is not JSON serializable" (json.dumps' TypeError).
// Each type is at most 32 bytes, so PyValue's size is unchanged.

// A tuple.
struct PyTuple {
    PyList items;
    friend bool operator==(const PyTuple& a, const PyTuple& b);
};

// A set or frozenset. Items keep the order they were pickled in (Python's
// iteration order); equality ignores order.
struct PySet {
    PyList items;
    bool frozen = false;
    friend bool operator==(const PySet& a, const PySet& b);
};

// bytes / bytearray: raw bytes.
struct PyBytes {
    std::string data;
    friend bool operator==(const PyBytes&, const PyBytes&) = default;
};
struct PyByteArray {
    std::string data;
    friend bool operator==(const PyByteArray&, const PyByteArray&) = default;
};

// decimal.Decimal as str(Decimal): "1.10", "-0", "1E+3", "NaN", "-Infinity".
struct PyDecimal {
    std::string text;
    friend bool operator==(const PyDecimal&, const PyDecimal&) = default;
};

// A tzinfo object.
struct PyTzInfo {
    enum class Kind : std::uint8_t {
        fixed,      // datetime.timezone(offset[, name]); timezone.utc is offset 0, no name
        pytz_utc,   // pytz.utc, what Django 3.2 puts in aware datetimes
        pytz_zone,  // a pytz zone (pytz._p): key, and utcoffset/dst/tzname when pickled with them
        zoneinfo,   // zoneinfo.ZoneInfo(key)
    };
    Kind kind = Kind::fixed;
    bool has_utcoffset = true;      // false for zoneinfo and for pytz zones pickled by key only
    bool has_name = false;          // fixed: an explicit name was given
    bool zoneinfo_cached = true;    // zoneinfo: ZoneInfo(key) rather than ZoneInfo.no_cache(key)
    std::int64_t utcoffset_us = 0;  // fixed; pytz_zone when has_utcoffset
    std::int64_t dst_us = 0;        // pytz_zone
    std::string name;               // fixed: the explicit name; pytz_zone: tzname ("CEST")
    std::string key;                // pytz_zone / zoneinfo: "Europe/Paris"
    friend bool operator==(const PyTzInfo&, const PyTzInfo&) = default;
};
using PyTzInfoPtr = std::shared_ptr<const PyTzInfo>;

// datetime.datetime, datetime.date or datetime.time.
struct PyDateTime {
    enum class Kind : std::uint8_t { datetime, date, time };
    Kind kind = Kind::datetime;
    std::uint8_t month = 1, day = 1, hour = 0, minute = 0, second = 0, fold = 0;
    std::uint16_t year = 1;
    std::uint32_t microsecond = 0;
    PyTzInfoPtr tzinfo;  // null: naive (always null for a date)
    // Compares the tzinfo by value.
    friend bool operator==(const PyDateTime& a, const PyDateTime& b);
};

// datetime.timedelta, normalized as Python keeps it: 0 <= seconds < 86400,
// 0 <= microseconds < 1000000.
struct PyTimeDelta {
    std::int64_t days = 0;
    std::int32_t seconds = 0;
    std::int32_t microseconds = 0;
    friend bool operator==(const PyTimeDelta&, const PyTimeDelta&) = default;
};

// A tzinfo object standing on its own (not inside a datetime).
struct PyTimezone {
    PyTzInfoPtr info;  // never null
    friend bool operator==(const PyTimezone& a, const PyTimezone& b);
};

// collections.OrderedDict (str keys, like PyDict).
struct PyOrderedDict {
    PyDict dict;
    friend bool operator==(const PyOrderedDict& a, const PyOrderedDict& b);
};

class PyValue {
public:
    // The first eight kinds are JSON's model (what json_loads produces); the
    // rest only come from pickles (see above). New kinds go at the end.
    using Variant =
        std::variant<std::monostate, bool, std::int64_t, PyBigInt, double, std::string, PyList, PyDict, PyTuple, PySet,
                     PyBytes, PyByteArray, PyDecimal, PyDateTime, PyTimeDelta, PyTimezone, PyOrderedDict>;

    PyValue() = default;  // None
    PyValue(std::nullptr_t) {}
    PyValue(bool b) : v_(b) {}
    PyValue(int i) : v_(static_cast<std::int64_t>(i)) {}
    PyValue(std::int64_t i) : v_(i) {}
    PyValue(PyBigInt i) : v_(std::move(i)) {}
    PyValue(double d) : v_(d) {}
    PyValue(std::string s) : v_(std::move(s)) {}
    PyValue(std::string_view s) : v_(std::string(s)) {}
    PyValue(const char* s) : v_(std::string(s)) {}
    PyValue(PyList l) : v_(std::move(l)) {}
    PyValue(PyDict d) : v_(std::move(d)) {}
    PyValue(PyTuple t) : v_(std::move(t)) {}
    PyValue(PySet s) : v_(std::move(s)) {}
    PyValue(PyBytes b) : v_(std::move(b)) {}
    PyValue(PyByteArray b) : v_(std::move(b)) {}
    PyValue(PyDecimal d) : v_(std::move(d)) {}
    PyValue(PyDateTime d) : v_(std::move(d)) {}
    PyValue(PyTimeDelta d) : v_(d) {}
    PyValue(PyTimezone z) : v_(std::move(z)) {}
    PyValue(PyOrderedDict d) : v_(std::move(d)) {}

    [[nodiscard]] bool is_none() const { return std::holds_alternative<std::monostate>(v_); }
    [[nodiscard]] bool is_bool() const { return std::holds_alternative<bool>(v_); }
    [[nodiscard]] bool is_int() const { return std::holds_alternative<std::int64_t>(v_); }
    [[nodiscard]] bool is_bigint() const { return std::holds_alternative<PyBigInt>(v_); }
    [[nodiscard]] bool is_float() const { return std::holds_alternative<double>(v_); }
    [[nodiscard]] bool is_str() const { return std::holds_alternative<std::string>(v_); }
    [[nodiscard]] bool is_list() const { return std::holds_alternative<PyList>(v_); }
    [[nodiscard]] bool is_dict() const { return std::holds_alternative<PyDict>(v_); }
    // One of the kinds only pickles produce (tuple, set, bytes, datetime, ...).
    [[nodiscard]] bool is_python_only() const { return v_.index() > 7; }
    // The pickle-only kinds, by type: holds<PyDateTime>(), get<PyDateTime>().
    template <class T>
    [[nodiscard]] bool holds() const {
        return std::holds_alternative<T>(v_);
    }
    template <class T>
    [[nodiscard]] const T& get() const {
        return std::get<T>(v_);
    }
    template <class T>
    [[nodiscard]] T& get() {
        return std::get<T>(v_);
    }

    [[nodiscard]] bool as_bool() const { return std::get<bool>(v_); }
    [[nodiscard]] std::int64_t as_int() const { return std::get<std::int64_t>(v_); }
    [[nodiscard]] const PyBigInt& as_bigint() const { return std::get<PyBigInt>(v_); }
    [[nodiscard]] double as_float() const { return std::get<double>(v_); }
    [[nodiscard]] const std::string& as_str() const { return std::get<std::string>(v_); }
    [[nodiscard]] const PyList& as_list() const { return std::get<PyList>(v_); }
    [[nodiscard]] PyList& as_list() { return std::get<PyList>(v_); }
    [[nodiscard]] const PyDict& as_dict() const { return std::get<PyDict>(v_); }
    [[nodiscard]] PyDict& as_dict() { return std::get<PyDict>(v_); }

    [[nodiscard]] const Variant& variant() const { return v_; }

    // Python truthiness: None, False, 0, 0.0, "", [], {} are false.
    [[nodiscard]] bool truthy() const;
    // The Python type name: "NoneType", "bool", "int", "float", "str", "list",
    // "dict"; for the pickle-only kinds "tuple", "set", "frozenset", "bytes",
    // "bytearray", "Decimal", "datetime", "date", "time", "timedelta",
    // "timezone" (pytz: "UTC", "DstTzInfo"/"StaticTzInfo"; "ZoneInfo"),
    // "OrderedDict".
    [[nodiscard]] const char* type_name() const;

    // Structural equality that keeps Python's distinctions that matter for
    // re-encoding (True is not 1 here, 1 is not 1.0). NaN equals NaN so that a
    // decoded payload compares equal to itself.
    friend bool operator==(const PyValue& a, const PyValue& b);

private:
    Variant v_;
};

struct PyDictEntry {
    std::string key;
    PyValue value;
};

// Defined here, where PyDictEntry is complete.
inline PyDict::PyDict() = default;
inline PyDict::~PyDict() = default;
inline PyDict::PyDict(const PyDict&) = default;
inline PyDict::PyDict(PyDict&&) noexcept = default;
inline PyDict& PyDict::operator=(const PyDict&) = default;
inline PyDict& PyDict::operator=(PyDict&&) noexcept = default;
inline std::size_t PyDict::size() const { return entries_.size(); }
inline bool PyDict::empty() const { return entries_.empty(); }
inline void PyDict::clear() { entries_.clear(); }
inline std::vector<PyDictEntry>::const_iterator PyDict::begin() const { return entries_.begin(); }
inline std::vector<PyDictEntry>::const_iterator PyDict::end() const { return entries_.end(); }

}  // namespace sessionctl
