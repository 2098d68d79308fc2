#include "core/pyvalue.hpp"

#include <algorithm>
#include <cmath>
#include <iterator>
#include <vector>

namespace sessionctl {

PyDict::PyDict(std::initializer_list<PyDictEntry> entries) {
    for (const auto& e : entries) set(e.key, e.value);
}

bool PyDict::contains(std::string_view key) const { return find(key) != nullptr; }

const PyValue* PyDict::find(std::string_view key) const {
    for (const auto& e : entries_)
        if (e.key == key) return &e.value;
    return nullptr;
}

PyValue* PyDict::find(std::string_view key) {
    for (auto& e : entries_)
        if (e.key == key) return &e.value;
    return nullptr;
}

void PyDict::set(std::string key, PyValue value) {
    if (PyValue* existing = find(key)) {
        *existing = std::move(value);
        return;
    }
    entries_.push_back(PyDictEntry{std::move(key), std::move(value)});
}

void PyDict::append_absent(std::string key, PyValue value) {
    entries_.push_back(PyDictEntry{std::move(key), std::move(value)});
}

bool PyDict::erase(std::string_view key) {
    auto it = std::find_if(entries_.begin(), entries_.end(), [&](const PyDictEntry& e) { return e.key == key; });
    if (it == entries_.end()) return false;
    entries_.erase(it);
    return true;
}

bool operator==(const PyDict& a, const PyDict& b) {
    if (a.size() != b.size()) return false;
    for (const auto& e : a.entries_) {
        const PyValue* other = b.find(e.key);
        if (!other || !(*other == e.value)) return false;
    }
    return true;
}

namespace {

// bool(Decimal(text)): false only for a zero coefficient ("0", "-0.00", "0E+3").
bool decimal_truthy(const std::string& text) {
    for (char c : text) {
        if (c >= '1' && c <= '9') return true;
        if (c == 'E' || c == 'e') return false;
        if (c == 'N' || c == 'n' || c == 'I' || c == 'i') return true;  // NaN, sNaN, Infinity
    }
    return false;
}

}  // namespace

bool PyValue::truthy() const {
    return std::visit(
        [](const auto& x) -> bool {
            using T = std::decay_t<decltype(x)>;
            if constexpr (std::is_same_v<T, std::monostate>) return false;
            else if constexpr (std::is_same_v<T, bool>) return x;
            else if constexpr (std::is_same_v<T, std::int64_t>) return x != 0;
            else if constexpr (std::is_same_v<T, PyBigInt>) return true;  // never zero
            else if constexpr (std::is_same_v<T, double>) return x != 0.0;
            else if constexpr (std::is_same_v<T, PyTuple> || std::is_same_v<T, PySet>) return !x.items.empty();
            else if constexpr (std::is_same_v<T, PyBytes> || std::is_same_v<T, PyByteArray>) return !x.data.empty();
            else if constexpr (std::is_same_v<T, PyDecimal>) return decimal_truthy(x.text);
            else if constexpr (std::is_same_v<T, PyDateTime> || std::is_same_v<T, PyTimezone>) return true;
            else if constexpr (std::is_same_v<T, PyTimeDelta>) return x.days || x.seconds || x.microseconds;
            else if constexpr (std::is_same_v<T, PyOrderedDict>) return !x.dict.empty();
            else return !x.empty();
        },
        v_);
}

const char* PyValue::type_name() const {
    static constexpr const char* names[] = {"NoneType", "bool",     "int",       "int",      "float",      "str",
                                            "list",     "dict",     "tuple",     "set",      "bytes",      "bytearray",
                                            "Decimal",  "datetime", "timedelta", "timezone", "OrderedDict"};
    static_assert(std::size(names) == std::variant_size_v<Variant>);
    if (const auto* s = std::get_if<PySet>(&v_); s && s->frozen) return "frozenset";
    if (const auto* d = std::get_if<PyDateTime>(&v_)) {
        if (d->kind == PyDateTime::Kind::date) return "date";
        if (d->kind == PyDateTime::Kind::time) return "time";
    }
    if (const auto* z = std::get_if<PyTimezone>(&v_)) {
        switch (z->info->kind) {
            case PyTzInfo::Kind::fixed: break;
            case PyTzInfo::Kind::pytz_utc: return "UTC";
            case PyTzInfo::Kind::pytz_zone: return z->info->has_utcoffset ? "DstTzInfo" : "StaticTzInfo";
            case PyTzInfo::Kind::zoneinfo: return "ZoneInfo";
        }
    }
    return names[v_.index()];
}

bool operator==(const PyTuple& a, const PyTuple& b) { return a.items == b.items; }

bool operator==(const PySet& a, const PySet& b) {
    if (a.frozen != b.frozen || a.items.size() != b.items.size()) return false;
    // Order-insensitive; items of a set are distinct, so matching each one of
    // `a` to an equal unused one of `b` decides it.
    std::vector<bool> used(b.items.size(), false);
    for (const auto& x : a.items) {
        bool found = false;
        for (std::size_t i = 0; i < b.items.size() && !found; ++i)
            if (!used[i] && b.items[i] == x) used[i] = found = true;
        if (!found) return false;
    }
    return true;
}

namespace {
bool same_tz(const PyTzInfoPtr& a, const PyTzInfoPtr& b) {
    if (!a || !b) return !a && !b;
    return *a == *b;
}
}  // namespace

bool operator==(const PyDateTime& a, const PyDateTime& b) {
    return a.kind == b.kind && a.year == b.year && a.month == b.month && a.day == b.day && a.hour == b.hour &&
           a.minute == b.minute && a.second == b.second && a.microsecond == b.microsecond && a.fold == b.fold &&
           same_tz(a.tzinfo, b.tzinfo);
}

bool operator==(const PyTimezone& a, const PyTimezone& b) { return same_tz(a.info, b.info); }

bool operator==(const PyOrderedDict& a, const PyOrderedDict& b) { return a.dict == b.dict; }

// The pickle-only kinds were sized so that adding them did not grow PyValue.
static_assert(sizeof(PyValue) <= sizeof(std::string) + sizeof(void*));

bool operator==(const PyValue& a, const PyValue& b) {
    if (a.v_.index() != b.v_.index()) return false;
    if (a.is_float()) {
        double x = a.as_float(), y = b.as_float();
        if (std::isnan(x) && std::isnan(y)) return true;
        return x == y && std::signbit(x) == std::signbit(y);
    }
    return a.v_ == b.v_;
}

}  // namespace sessionctl
