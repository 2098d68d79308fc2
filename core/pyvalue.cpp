#include "core/pyvalue.hpp"

#include <algorithm>
#include <cmath>

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

bool PyDict::erase(std::string_view key) {
    auto it = std::find_if(entries_.begin(), entries_.end(),
                           [&](const PyDictEntry& e) { return e.key == key; });
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

bool PyValue::truthy() const {
    return std::visit(
        [](const auto& x) -> bool {
            using T = std::decay_t<decltype(x)>;
            if constexpr (std::is_same_v<T, std::monostate>) return false;
            else if constexpr (std::is_same_v<T, bool>) return x;
            else if constexpr (std::is_same_v<T, std::int64_t>) return x != 0;
            else if constexpr (std::is_same_v<T, PyBigInt>) return true;  // never zero
            else if constexpr (std::is_same_v<T, double>) return x != 0.0;
            else return !x.empty();
        },
        v_);
}

const char* PyValue::type_name() const {
    static constexpr const char* names[] = {"NoneType", "bool", "int",  "int",
                                            "float",    "str",  "list", "dict"};
    return names[v_.index()];
}

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
