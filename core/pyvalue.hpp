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

class PyValue {
public:
    using Variant = std::variant<std::monostate, bool, std::int64_t, PyBigInt, double,
                                 std::string, PyList, PyDict>;

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

    [[nodiscard]] bool is_none() const { return std::holds_alternative<std::monostate>(v_); }
    [[nodiscard]] bool is_bool() const { return std::holds_alternative<bool>(v_); }
    [[nodiscard]] bool is_int() const { return std::holds_alternative<std::int64_t>(v_); }
    [[nodiscard]] bool is_bigint() const { return std::holds_alternative<PyBigInt>(v_); }
    [[nodiscard]] bool is_float() const { return std::holds_alternative<double>(v_); }
    [[nodiscard]] bool is_str() const { return std::holds_alternative<std::string>(v_); }
    [[nodiscard]] bool is_list() const { return std::holds_alternative<PyList>(v_); }
    [[nodiscard]] bool is_dict() const { return std::holds_alternative<PyDict>(v_); }

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
    // The Python type name: "NoneType", "bool", "int", "float", "str", "list", "dict".
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
