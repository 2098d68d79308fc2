#include "core/pickle_unpickler.hpp"

// The object graph a pickle builds: containers that refer to other nodes (so
// that memo references share, as Python's objects do), filled with Python's
// rules for hashability and dict keys, then converted into one PyValue tree.

#include <cmath>
#include <string>
#include <tuple>
#include <unordered_map>

#include <fmt/format.h>

#include "core/json_codec.hpp"  // python_float_repr

namespace sessionctl::pickle {
namespace {

std::string index_key(const DictSlot& slot) { return slot.eq.empty() ? "s" + slot.key : slot.eq; }

}  // namespace

const char* Unpickler::kind_name(const Node* n) {
    switch (n->kind) {
        case NodeKind::leaf: return n->leaf.type_name();
        case NodeKind::list: return "list";
        case NodeKind::tuple: return "tuple";
        case NodeKind::dict: return "dict";
        case NodeKind::ordered_dict: return "OrderedDict";
        case NodeKind::set: return "set";
        case NodeKind::frozenset: return "frozenset";
        case NodeKind::global: return "global";
    }
    return "?";
}

void Unpickler::check_size(const Node* container, std::size_t adding) {
    const std::size_t have = container->box->items.size() + container->box->slots.size();
    if (adding > limits_.max_container_size || have > limits_.max_container_size - adding)
        fail(fmt::format("a {} with more than {} items", kind_name(container), limits_.max_container_size));
}

Node* Unpickler::make_sequence(NodeKind kind, std::vector<Node*> items) {
    Node* n = make(kind);
    check_size(n, items.size());
    for (Node* item : items) ++item->uses;
    n->box->items = std::move(items);
    return n;
}

void Unpickler::append(Node* list, const std::vector<Node*>& items) {
    if (list->kind != NodeKind::list) fail(fmt::format("cannot append to a {}", kind_name(list)));
    check_size(list, items.size());
    for (Node* item : items) ++item->uses;
    list->box->items.insert(list->box->items.end(), items.begin(), items.end());
}

void Unpickler::add_items(Node* set, const std::vector<Node*>& items) {
    if (set->kind != NodeKind::set) fail(fmt::format("cannot add items to a {}", kind_name(set)));
    check_size(set, items.size());
    for (Node* item : items) {
        check_hashable(item);
        ++item->uses;
        set->box->items.push_back(item);
    }
}

void Unpickler::check_hashable(const Node* n) {
    if (n->kind == NodeKind::list || n->kind == NodeKind::dict || n->kind == NodeKind::ordered_dict ||
        n->kind == NodeKind::set || (n->kind == NodeKind::leaf && n->leaf.holds<PyByteArray>()))
        fail(fmt::format("unhashable type: '{}'", kind_name(n)));
}

std::pair<std::string, std::string> Unpickler::dict_key(const Node* k) {
    check_hashable(k);
    if (k->kind == NodeKind::leaf) {
        const PyValue& v = k->leaf;
        if (v.is_int()) return {std::to_string(v.as_int()), "n" + std::to_string(v.as_int())};
        if (v.is_bigint()) return {v.as_bigint().decimal, "n" + v.as_bigint().decimal};
        if (v.is_bool()) return {v.as_bool() ? "true" : "false", v.as_bool() ? "n1" : "n0"};
        if (v.is_none()) return {"null", "N"};
        if (v.is_float()) {
            const double d = v.as_float();
            if (std::isnan(d)) return {"NaN", "nan#" + std::to_string(nan_keys_++)};
            if (std::isinf(d)) return {d > 0 ? "Infinity" : "-Infinity", d > 0 ? "f+inf" : "f-inf"};
            const std::string repr = python_float_repr(d);
            if (d == std::trunc(d) && std::fabs(d) < 9.2e18)
                return {repr, "n" + std::to_string(static_cast<std::int64_t>(d))};
            return {repr, "f" + repr};
        }
    }
    fail(
        fmt::format("a dict key of type {} has no JSON form (keys must be str, int, float, bool or None, "
                    "as for json.dumps)",
                    kind_name(k)));
}

void Unpickler::set_items(Node* dict, const std::vector<Node*>& kv) {
    if (dict->kind != NodeKind::dict && dict->kind != NodeKind::ordered_dict)
        fail(fmt::format("cannot set items of a {}", kind_name(dict)));
    if (kv.size() % 2) fail("odd number of items for SETITEMS");
    Container& box = *dict->box;
    // The first batch sizes the dict (later batches grow it by doubling).
    if (box.slots.empty()) box.slots.reserve(kv.size() / 2);
    for (std::size_t i = 0; i < kv.size(); i += 2) {
        DictSlot slot;
        const PyValue* k = leaf_of(kv[i]);
        if (k && k->is_str()) {
            slot.key = k->as_str();
        } else {
            std::tie(slot.key, slot.eq) = dict_key(kv[i]);
            box.nonstr_keys = true;
        }
        slot.value = kv[i + 1];
        ++slot.value->uses;
        std::size_t found = box.slots.size();
        if (box.slots.size() < kIndexFrom) {
            for (std::size_t j = 0; j < box.slots.size(); ++j)
                if (box.slots[j].eq == slot.eq && (!slot.eq.empty() || box.slots[j].key == slot.key)) {
                    found = j;
                    break;
                }
        } else {
            if (box.index.empty())
                for (std::size_t j = 0; j < box.slots.size(); ++j) box.index.emplace(index_key(box.slots[j]), j);
            auto [it, inserted] = box.index.emplace(index_key(slot), box.slots.size());
            if (!inserted) found = it->second;
        }
        if (found < box.slots.size()) {
            box.slots[found].value = slot.value;  // Python keeps the first key, takes the last value
            continue;
        }
        check_size(dict, 1);
        box.slots.push_back(std::move(slot));
    }
}

void Unpickler::count_value(std::size_t bytes) {
    if (++values_out_ > limits_.max_values)
        throw PickleError(
            fmt::format("bad pickle: the value has more than {} parts (shared references are "
                        "counted each time)",
                        limits_.max_values));
    if (bytes > limits_.max_result_bytes - std::min(bytes_out_, limits_.max_result_bytes))
        throw PickleError(
            fmt::format("bad pickle: the value holds more than {} bytes of text (shared "
                        "references are counted each time)",
                        limits_.max_result_bytes));
    bytes_out_ += bytes;
}

PyValue Unpickler::convert(Node* n, std::size_t depth, bool shared) {
    shared = shared || n->uses > 1;
    if (n->kind == NodeKind::leaf) {
        PyValue& v = n->leaf;
        std::size_t bytes = 0;
        if (v.is_str()) bytes = v.as_str().size();
        else if (v.is_bigint()) bytes = v.as_bigint().decimal.size();
        else if (v.holds<PyBytes>()) bytes = v.get<PyBytes>().data.size();
        else if (v.holds<PyByteArray>()) bytes = v.get<PyByteArray>().data.size();
        count_value(bytes);
        return shared ? v : std::move(v);
    }
    if (n->kind == NodeKind::global)
        throw PickleError("bad pickle: the pickle holds " + n->leaf.as_str() + " itself, which is not data");
    if (depth >= limits_.max_depth)
        throw PickleError(fmt::format("bad pickle: nesting deeper than {}", limits_.max_depth));
    if (n->converting)
        throw PickleError(fmt::format("bad pickle: a {} that contains itself cannot be represented", kind_name(n)));
    count_value(0);
    n->converting = true;
    PyValue out;
    const Container& box = *n->box;
    switch (n->kind) {
        case NodeKind::list:
        case NodeKind::tuple:
        case NodeKind::set:
        case NodeKind::frozenset: {
            PyList items;
            items.reserve(box.items.size());
            for (Node* item : box.items) items.push_back(convert(item, depth + 1, shared));
            if (n->kind == NodeKind::list) out = PyValue(std::move(items));
            else if (n->kind == NodeKind::tuple) out = PyValue(PyTuple{std::move(items)});
            else out = PyValue(PySet{std::move(items), n->kind == NodeKind::frozenset});
            break;
        }
        case NodeKind::dict:
        case NodeKind::ordered_dict: {
            PyDict dict;
            if (!box.nonstr_keys) {
                // str keys are distinct already.
                for (DictSlot& slot : n->box->slots) {
                    PyValue v = convert(slot.value, depth + 1, shared);
                    dict.append_absent(shared ? slot.key : std::move(slot.key), std::move(v));
                }
            } else {
                // Keys that differ in Python but not as JSON text (1 and
                // "1") end as json.loads(json.dumps(d)) would leave them:
                // the last value at the first position.
                std::unordered_map<std::string_view, std::size_t> seen;
                std::vector<std::pair<std::string, PyValue>> entries;
                entries.reserve(box.slots.size());
                for (const DictSlot& slot : box.slots) {
                    PyValue v = convert(slot.value, depth + 1, shared);
                    auto it = seen.find(slot.key);
                    if (it != seen.end()) {
                        entries[it->second].second = std::move(v);
                        continue;
                    }
                    seen.emplace(slot.key, entries.size());
                    entries.emplace_back(slot.key, std::move(v));
                }
                for (auto& [k, v] : entries) dict.append_absent(std::move(k), std::move(v));
            }
            if (n->kind == NodeKind::dict) out = PyValue(std::move(dict));
            else out = PyValue(PyOrderedDict{std::move(dict)});
            break;
        }
        case NodeKind::leaf:
        case NodeKind::global: break;
    }
    n->converting = false;
    return out;
}

}  // namespace sessionctl::pickle
