#pragma once

// The unpickler behind pickle_loads and pickle_load_prefix: one class whose
// three concerns live in three files:
//   core/pickle_reader.cpp   the input, the stack, the memo and the opcode loop
//   core/pickle_globals.cpp  the whitelisted globals and the values their calls build
//   core/pickle_graph.cpp    containers while reading, then the graph -> PyValue
// Internal to the pickle codec: callers use core/pickle_codec.hpp.

#include <array>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "core/pickle_codec.hpp"
#include "core/pyvalue.hpp"

namespace sessionctl::pickle {

// The callables a pickle may name. Each builds a value; none runs anything.
enum class Callable : std::uint8_t {
    none,  // a global that is a value, not callable (pytz.utc)
    datetime,
    date,
    time,
    timedelta,
    timezone,
    pytz_utc,  // pytz._UTC()
    pytz_p,    // pytz._p(zone[, utcoffset, dst, tzname])
    decimal,
    ordered_dict,
    set,
    frozenset,
    bytes,
    bytearray,
    codecs_encode,      // _codecs.encode(str, "latin1"): bytes in protocols 0-2
    getattr,            // only getattr(zoneinfo.ZoneInfo, "_unpickle")
    zoneinfo,           // zoneinfo.ZoneInfo(key)
    zoneinfo_unpickle,  // ZoneInfo._unpickle(key, from_cache)
};

enum class NodeKind : std::uint8_t { leaf, list, tuple, dict, ordered_dict, set, frozenset, global };

struct Node;

struct DictSlot {
    std::string key;  // as json.dumps writes it
    std::string eq;   // for a non-str key: what decides Python equality; empty for a str key
    Node* value;
};

// What a container holds while the pickle is read: references to other nodes,
// so that memo references share, as Python's objects do.
struct Container {
    std::vector<Node*> items;     // list, tuple, set, frozenset
    std::vector<DictSlot> slots;  // dict, ordered dict
    // Equality key ("s" + str key, or DictSlot::eq) -> slot; built once a dict
    // is large enough for a linear search to cost more.
    std::unordered_map<std::string, std::size_t> index;
    bool nonstr_keys = false;  // some key was converted (1 -> "1"): JSON texts may repeat
};

constexpr std::size_t kIndexFrom = 24;

// One object of the unpickled graph. Nodes live in the unpickler's arena and
// refer to each other by plain pointers, so tearing down a deep or cyclic
// graph is flat.
struct Node {
    NodeKind kind = NodeKind::leaf;
    Callable callable = Callable::none;
    bool converting = false;
    std::uint32_t uses = 0;  // references from containers (and STOP); 1: the value can be moved out
    PyValue leaf;            // leaf: the value; global: "module.name"
    std::unique_ptr<Container> box;
};

class Unpickler {
public:
    Unpickler(std::string_view data, const PickleLimits& limits);
    PickleLoadResult run();

private:
    std::string_view data_;
    const PickleLimits& limits_;
    std::size_t end_ = 0;
    std::size_t pos_ = 0;
    std::size_t op_pos_ = 0;
    unsigned char op_ = 0;

    // The first nodes live in the unpickler itself: a session's pickle
    // rarely needs more, and a store scan decodes one per record.
    static constexpr std::size_t kInlineNodes = 32;
    std::array<Node, kInlineNodes> inline_nodes_;
    std::size_t inline_used_ = 0;
    std::deque<Node> arena_;
    std::vector<Node*> stack_;
    std::vector<std::size_t> marks_;
    // The memo: dense indices (what picklers write) in a vector, others in a map.
    std::vector<Node*> memo_dense_;
    std::unordered_map<std::uint64_t, Node*> memo_sparse_;
    std::size_t memo_count_ = 0;
    Node* none_ = nullptr;
    Node* true_ = nullptr;
    Node* false_ = nullptr;
    std::uint64_t nan_keys_ = 0;
    std::size_t values_out_ = 0;
    std::size_t bytes_out_ = 0;

    // ---- errors (pickle_reader.cpp)

    [[noreturn]] void fail(const std::string& what) const;
    [[noreturn]] void fail_truncated(std::size_t wanted) const;

    // The name comes from the pickle: the message shows it with control and
    // other non-printable characters escaped, so it cannot drive a terminal.
    [[noreturn]] void refuse(const std::string& global) const;

    // ---- nodes: every part makes them

    Node* make(NodeKind kind) {
        if (inline_used_ + arena_.size() >= limits_.max_values)
            fail(fmt::format("more than {} objects", limits_.max_values));
        Node& n = inline_used_ < kInlineNodes ? inline_nodes_[inline_used_++] : arena_.emplace_back();
        n.kind = kind;
        if (kind != NodeKind::leaf && kind != NodeKind::global) n.box = std::make_unique<Container>();
        return &n;
    }
    Node* make_leaf(PyValue v) {
        Node* n = make(NodeKind::leaf);
        n->leaf = std::move(v);
        return n;
    }
    Node* make_str(std::string s) { return make_leaf(PyValue(std::move(s))); }
    static const PyValue* leaf_of(const Node* n) { return n->kind == NodeKind::leaf ? &n->leaf : nullptr; }

    // ---- input, stack and memo (pickle_reader.cpp)

    std::string_view take(std::size_t n);
    std::uint64_t take_le(std::size_t n);
    std::size_t take_size(std::size_t n);

    // A text opcode's argument: up to the newline, which is consumed.
    std::string_view line();

    std::size_t fence() const;
    [[noreturn]] void underflow() const;
    void push(Node* n);
    Node* pop();
    Node* top();

    // Pops the topmost MARK and everything above it.
    std::vector<Node*> pop_mark();

    void memo_put(std::uint64_t index);
    Node*& memo_slot(std::uint64_t index);
    void memo_get(std::uint64_t index);
    std::uint64_t text_index(std::string_view text);

    // ---- text opcodes and the loop (pickle_reader.cpp)

    // FLOAT's argument as PyOS_string_to_double reads it.
    double parse_float(std::string_view text);

    // STRING's argument: a quoted Python 2 str literal (PyBytes_DecodeEscape),
    // then decoded as ASCII as pickle.loads does by default.
    std::string decode_string_literal(std::string_view s);

    // Python 2 str data (STRING / BINSTRING / SHORT_BINSTRING) decoded with
    // pickle.loads' default encoding, ASCII.
    std::string ascii_str(std::string s);

    // UNICODE's argument: raw-unicode-escape (latin-1 bytes, \uXXXX, \UXXXXXXXX).
    std::string decode_raw_unicode_escape(std::string_view s);
    std::string utf8_str(std::string_view data);

    // Runs one opcode; the result once STOP is reached.
    Node* step();

    // ---- containers (pickle_graph.cpp)

    static const char* kind_name(const Node* n);
    void check_size(const Node* container, std::size_t adding);
    Node* make_sequence(NodeKind kind, std::vector<Node*> items);
    void append(Node* list, const std::vector<Node*>& items);
    void add_items(Node* set, const std::vector<Node*>& items);
    void check_hashable(const Node* n);

    // The key json.dumps writes for a non-str dict key, and one that is equal
    // exactly when Python's keys are equal (1 == 1.0 == True).
    std::pair<std::string, std::string> dict_key(const Node* k);

    // d[key] = value for each pair, keys as dict_key() converts them.
    void set_items(Node* dict, const std::vector<Node*>& kv);

    // ---- globals and calls (pickle_globals.cpp)

    Node* global(std::string_view module, std::string_view name);
    std::int64_t int_arg(const Node* n, const std::string& fn, const char* what);
    const std::string& str_arg(const Node* n, const std::string& fn, const char* what);

    // The bytes of a datetime state (bytes, or a str of code points < 256 as
    // Python 2 pickles carry it); nullopt for anything else.
    std::optional<std::string> state_bytes(const Node* n);
    PyTzInfoPtr tz_arg(const Node* n, const std::string& fn);

    // The items of an iterable argument (list, tuple, set, frozenset).
    const std::vector<Node*>& iterable_arg(const Node* n, const std::string& fn);
    void check_datetime(const PyDateTime& d, const std::string& fn);

    // datetime / date / time from a pickled state or from their int arguments.
    Node* make_datetime(PyDateTime::Kind kind, const std::vector<Node*>& args, const std::string& fn);
    Node* make_timedelta(const std::vector<Node*>& args, const std::string& fn);
    Node* make_timezone(const std::vector<Node*>& args, const std::string& fn);
    Node* make_pytz_zone(const std::vector<Node*>& args, const std::string& fn);
    Node* make_zoneinfo(const std::string& key, bool cached);
    Node* latin1_bytes(const std::string& s, const std::string& fn);

    // callable(*args) for REDUCE / INST / OBJ, or cls.__new__(cls, *args) for
    // NEWOBJ (`fresh`): the value it would build, never a call.
    Node* apply(const Node* fn_node, const std::vector<Node*>& args, bool fresh);

    // ---- graph -> PyValue (pickle_graph.cpp)

    void count_value(std::size_t bytes);

    // The value of a node. `shared`: some container on the way here is
    // reached more than once, so nothing below may be moved out.
    PyValue convert(Node* n, std::size_t depth, bool shared);
};

}  // namespace sessionctl::pickle
