#include "core/pickle_codec.hpp"

// Reading mirrors CPython 3.11/3.12's Modules/_pickle.c (the C unpickler
// pickle.loads uses): its stack / MARK / memo semantics, its parsing of the
// text opcodes, and its error cases.

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <system_error>

#include <fmt/format.h>

#include "core/pickle_format.hpp"
#include "core/pickle_unpickler.hpp"
#include "core/python_int.hpp"
#include "core/python_repr.hpp"
#include "util/text.hpp"
#include "util/utf8.hpp"

namespace sessionctl {
namespace pickle {

Unpickler::Unpickler(std::string_view data, const PickleLimits& limits) : data_(data), limits_(limits) {
    end_ = std::min(data_.size(), limits_.max_input_size);
    // Room for a session's worth up front: growing these one doubling at
    // a time cost a dozen allocations per record in a store scan.
    stack_.reserve(32);
    marks_.reserve(8);
    memo_dense_.reserve(64);
    none_ = make_leaf(PyValue());
    true_ = make_leaf(PyValue(true));
    false_ = make_leaf(PyValue(false));
}

PickleLoadResult Unpickler::run() {
    Node* result = nullptr;
    while (!result) result = step();
    ++result->uses;
    PickleLoadResult out;
    out.value = convert(result, 0, false);
    out.consumed = pos_;
    return out;
}

// ---- errors

void Unpickler::fail(const std::string& what) const {
    const char* name = opcode_name(op_);
    throw PickleError(fmt::format("bad pickle: {} ({} at byte {})", what, name ? name : "?", op_pos_));
}

void Unpickler::fail_truncated(std::size_t wanted) const {
    if (end_ < data_.size())
        throw PickleError(fmt::format("pickle exceeds the limit of {} bytes", limits_.max_input_size));
    const char* name = opcode_name(op_);
    throw PickleError(fmt::format("bad pickle: data was truncated ({} at byte {} needs {}, {} left)", name ? name : "?",
                                  op_pos_, count_of(wanted, "more byte"), end_ - pos_));
}

void Unpickler::refuse(const std::string& global) const {
    const std::string shown = str_repr(global);
    throw PickleRefusedError(
        global, fmt::format("refusing to unpickle global {} at byte {}: only datetime, decimal.Decimal, "
                            "collections.OrderedDict, pytz/zoneinfo time zones, sets and bytes are read from "
                            "pickles (nothing was executed)",
                            std::string_view(shown).substr(1, shown.size() - 2), op_pos_));
}

// ---- input

std::string_view Unpickler::take(std::size_t n) {
    if (n > end_ - pos_) fail_truncated(n);
    std::string_view s = data_.substr(pos_, n);
    pos_ += n;
    return s;
}

std::uint64_t Unpickler::take_le(std::size_t n) {
    std::string_view s = take(n);
    std::uint64_t v = 0;
    for (std::size_t i = 0; i < n; ++i) v |= static_cast<std::uint64_t>(static_cast<unsigned char>(s[i])) << (8 * i);
    return v;
}

std::size_t Unpickler::take_size(std::size_t n) {
    const std::uint64_t v = take_le(n);
    if (v > end_ - pos_)
        fail_truncated(v > std::numeric_limits<std::size_t>::max() ? std::numeric_limits<std::size_t>::max()
                                                                   : static_cast<std::size_t>(v));
    return static_cast<std::size_t>(v);
}

std::string_view Unpickler::line() {
    const auto nl = data_.substr(0, end_).find('\n', pos_);
    if (nl == std::string_view::npos) {
        if (end_ < data_.size())
            throw PickleError(fmt::format("pickle exceeds the limit of {} bytes", limits_.max_input_size));
        const char* name = opcode_name(op_);
        throw PickleError(fmt::format("bad pickle: data was truncated ({} at byte {} has no end of line)",
                                      name ? name : "?", op_pos_));
    }
    std::string_view s = data_.substr(pos_, nl - pos_);
    pos_ = nl + 1;
    return s;
}

// ---- stack

std::size_t Unpickler::fence() const { return marks_.empty() ? 0 : marks_.back(); }

void Unpickler::underflow() const { fail(marks_.empty() ? "unpickling stack underflow" : "unexpected MARK found"); }

void Unpickler::push(Node* n) {
    if (stack_.size() >= limits_.max_values) fail(fmt::format("stack deeper than {}", limits_.max_values));
    stack_.push_back(n);
}

Node* Unpickler::pop() {
    if (stack_.size() <= fence()) underflow();
    Node* n = stack_.back();
    stack_.pop_back();
    return n;
}

Node* Unpickler::top() {
    if (stack_.size() <= fence()) underflow();
    return stack_.back();
}

std::vector<Node*> Unpickler::pop_mark() {
    if (marks_.empty()) fail("could not find MARK");
    const std::size_t m = marks_.back();
    marks_.pop_back();
    std::vector<Node*> items(stack_.begin() + static_cast<std::ptrdiff_t>(m), stack_.end());
    stack_.resize(m);
    return items;
}

// ---- memo

void Unpickler::memo_put(std::uint64_t index) {
    if (stack_.size() <= fence()) underflow();
    Node*& slot = memo_slot(index);
    if (!slot) {
        if (memo_count_ >= limits_.max_memo_size) fail(fmt::format("more than {} memo entries", limits_.max_memo_size));
        ++memo_count_;
    }
    slot = stack_.back();
}

Node*& Unpickler::memo_slot(std::uint64_t index) {
    if (index < limits_.max_memo_size) {
        if (index >= memo_dense_.size())
            memo_dense_.resize(std::max<std::size_t>(static_cast<std::size_t>(index) + 1, memo_dense_.size() * 2),
                               nullptr);
        return memo_dense_[static_cast<std::size_t>(index)];
    }
    return memo_sparse_[index];
}

void Unpickler::memo_get(std::uint64_t index) {
    Node* found = nullptr;
    if (index < memo_dense_.size()) {
        found = memo_dense_[static_cast<std::size_t>(index)];
    } else if (auto it = memo_sparse_.find(index); it != memo_sparse_.end()) {
        found = it->second;
    }
    if (!found) fail(fmt::format("memo index {} not found ({} entries)", index, memo_count_));
    push(found);
}

std::uint64_t Unpickler::text_index(std::string_view text) {
    auto [digits, error] = parse_python_int(text);
    if (!error.empty()) fail(error);
    if (digits[0] == '-') fail("negative memo index " + digits);
    std::uint64_t v = 0;
    auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), v);
    if (ec != std::errc()) fail("memo index " + digits + " out of range");
    return v;
}

// ---- text opcodes

double Unpickler::parse_float(std::string_view text) {
    std::string_view s = text;
    bool negative = false;
    if (!s.empty() && (s.front() == '+' || s.front() == '-')) {
        negative = s.front() == '-';
        s.remove_prefix(1);
    }
    double d = 0;
    if (s.empty() || s.front() == '+' || s.front() == '-')
        fail("could not convert string to float: " + quoted_bytes(text));
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), d);
    if (p != s.data() + s.size() || (ec != std::errc() && ec != std::errc::result_out_of_range))
        fail("could not convert string to float: " + quoted_bytes(text));
    if (ec == std::errc::result_out_of_range) {
        // Overflow is an error in Python; underflow gives 0.0.
        if (std::fabs(d) > 1.0) fail("float out of range: " + quoted_bytes(text));
    }
    return negative ? -d : d;
}

std::string Unpickler::decode_string_literal(std::string_view s) {
    if (s.size() < 2 || s.front() != s.back() || (s.front() != '\'' && s.front() != '"'))
        fail("the STRING opcode argument must be quoted");
    s = s.substr(1, s.size() - 2);
    std::string out;
    for (std::size_t i = 0; i < s.size(); ++i) {
        char c = s[i];
        if (c != '\\' || i + 1 == s.size()) {
            if (c == '\\') fail("Trailing \\ in string");
            out += c;
            continue;
        }
        c = s[++i];
        switch (c) {
            case '\n': break;
            case '\\': out += '\\'; break;
            case '\'': out += '\''; break;
            case '"': out += '"'; break;
            case 'b': out += '\b'; break;
            case 'f': out += '\f'; break;
            case 't': out += '\t'; break;
            case 'n': out += '\n'; break;
            case 'r': out += '\r'; break;
            case 'v': out += '\v'; break;
            case 'a': out += '\a'; break;
            case 'x': {
                if (i + 2 >= s.size() || hex_value(s[i + 1]) < 0 || hex_value(s[i + 2]) < 0)
                    fail(fmt::format("invalid \\x escape at position {}", i - 1));
                out += static_cast<char>(hex_value(s[i + 1]) * 16 + hex_value(s[i + 2]));
                i += 2;
                break;
            }
            default:
                if (c >= '0' && c <= '7') {
                    int v = c - '0';
                    for (int k = 0; k < 2 && i + 1 < s.size() && s[i + 1] >= '0' && s[i + 1] <= '7'; ++k)
                        v = v * 8 + (s[++i] - '0');
                    out += static_cast<char>(v & 0xFF);
                } else {
                    out += '\\';
                    out += c;
                }
        }
    }
    return ascii_str(std::move(out));
}

std::string Unpickler::ascii_str(std::string s) {
    for (std::size_t i = 0; i < s.size(); ++i)
        if (static_cast<unsigned char>(s[i]) >= 0x80)
            fail(
                fmt::format("'ascii' codec can't decode byte 0x{:02x} in position {}: a Python 2 str read "
                            "with pickle.loads' default encoding",
                            static_cast<unsigned char>(s[i]), i));
    return s;
}

std::string Unpickler::decode_raw_unicode_escape(std::string_view s) {
    std::string out;
    for (std::size_t i = 0; i < s.size();) {
        const auto c = static_cast<unsigned char>(s[i]);
        if (c == '\\' && i + 1 < s.size() && (s[i + 1] == 'u' || s[i + 1] == 'U')) {
            const std::size_t n = s[i + 1] == 'u' ? 4 : 8;
            if (s.size() - i - 2 < n) fail(fmt::format("truncated \\{}XXXX escape", s[i + 1]));
            std::uint32_t cp = 0;
            for (std::size_t k = 0; k < n; ++k) {
                const int h = hex_value(s[i + 2 + k]);
                if (h < 0) fail(fmt::format("truncated \\{}XXXX escape", s[i + 1]));
                cp = cp * 16 + static_cast<std::uint32_t>(h);
            }
            if (cp > 0x10FFFF) fail("\\Uxxxxxxxx out of range");
            append_code_point(out, cp);
            i += 2 + n;
        } else {
            append_code_point(out, c);
            ++i;
        }
    }
    return out;
}

std::string Unpickler::utf8_str(std::string_view data) {
    const auto bad = invalid_utf8_at(data);
    if (bad != std::string_view::npos)
        fail(fmt::format("'utf-8' codec can't decode byte 0x{:02x} in position {}",
                         static_cast<unsigned char>(data[bad]), bad));
    return std::string(data);
}

// ---- the loop

Node* Unpickler::step() {
    op_pos_ = pos_;
    if (pos_ >= end_) {
        if (end_ < data_.size())
            throw PickleError(fmt::format("pickle exceeds the limit of {} bytes", limits_.max_input_size));
        throw PickleError(pos_ == 0 ? std::string("bad pickle: empty input")
                                    : fmt::format("bad pickle: data was truncated (no STOP opcode in {} bytes)", pos_));
    }
    op_ = static_cast<unsigned char>(data_[pos_++]);
    switch (op_) {
        case op::PROTO: {
            const auto proto = static_cast<unsigned char>(take(1)[0]);
            if (proto > 5) fail(fmt::format("unsupported pickle protocol: {}", proto));
            break;
        }
        case op::FRAME: {
            const std::uint64_t n = take_le(8);
            if (n > end_ - pos_) fail_truncated(static_cast<std::size_t>(std::min<std::uint64_t>(n, SIZE_MAX)));
            break;
        }
        case op::STOP: return pop();
        case op::MARK:
            if (marks_.size() >= limits_.max_depth) fail(fmt::format("MARKs nested deeper than {}", limits_.max_depth));
            marks_.push_back(stack_.size());
            break;
        case op::POP:
            if (!marks_.empty() && marks_.back() == stack_.size()) marks_.pop_back();
            else pop();
            break;
        case op::POP_MARK: (void)pop_mark(); break;
        case op::DUP: push(top()); break;

        // ---- atoms
        case op::NONE: push(none_); break;
        case op::NEWTRUE: push(true_); break;
        case op::NEWFALSE: push(false_); break;
        case op::BININT1: push(make_leaf(PyValue(static_cast<std::int64_t>(take_le(1))))); break;
        case op::BININT2: push(make_leaf(PyValue(static_cast<std::int64_t>(take_le(2))))); break;
        case op::BININT: {
            const auto u = static_cast<std::uint32_t>(take_le(4));
            std::int32_t v;
            std::memcpy(&v, &u, sizeof v);
            push(make_leaf(PyValue(static_cast<std::int64_t>(v))));
            break;
        }
        case op::INT: {
            // C load_int: strtol, then "00"/"01" mean False/True.
            const std::string_view text = line();
            if (text.size() == 2 && (text == "00" || text == "01")) {
                push(text == "01" ? true_ : false_);
                break;
            }
            auto [digits, error] = parse_python_int(text);
            if (!error.empty()) fail("could not convert string to int: " + quoted_bytes(text));
            if (text.size() == 2 && (digits == "0" || digits == "1") && text.find_first_of("+-") == 0) {
                push(digits == "1" ? true_ : false_);  // strtol reads "-0" / "+1" too
                break;
            }
            push(make_leaf(int_from_decimal(digits)));
            break;
        }
        case op::LONG: {
            std::string_view text = line();
            if (!text.empty() && text.back() == 'L') text.remove_suffix(1);
            auto [digits, error] = parse_python_int(text);
            if (!error.empty()) fail(error);
            push(make_leaf(int_from_decimal(digits)));
            break;
        }
        case op::LONG1:
        case op::LONG4: {
            std::uint64_t n = take_le(op_ == op::LONG1 ? 1 : 4);
            if (op_ == op::LONG4 && (n & 0x80000000u)) fail("LONG pickle has negative byte count");
            if (n > limits_.max_int_bytes)
                fail(fmt::format("an integer of {} bytes (the limit is {})", n, limits_.max_int_bytes));
            push(make_leaf(int_from_le_signed(take(static_cast<std::size_t>(n)))));
            break;
        }
        case op::FLOAT: push(make_leaf(PyValue(parse_float(line())))); break;
        case op::BINFLOAT: {
            const std::string_view b = take(8);
            std::uint64_t u = 0;
            for (char c : b) u = (u << 8) | static_cast<unsigned char>(c);
            double d;
            std::memcpy(&d, &u, sizeof d);
            push(make_leaf(PyValue(d)));
            break;
        }

        // ---- strings and bytes
        case op::STRING: push(make_str(decode_string_literal(line()))); break;
        case op::BINSTRING: {
            const std::uint64_t n = take_le(4);
            if (n & 0x80000000u) fail("BINSTRING pickle has negative byte count");
            if (n > end_ - pos_) fail_truncated(static_cast<std::size_t>(n));
            push(make_str(ascii_str(std::string(take(static_cast<std::size_t>(n))))));
            break;
        }
        case op::SHORT_BINSTRING: push(make_str(ascii_str(std::string(take(take_size(1)))))); break;
        case op::UNICODE: push(make_str(decode_raw_unicode_escape(line()))); break;
        case op::SHORT_BINUNICODE: push(make_str(utf8_str(take(take_size(1))))); break;
        case op::BINUNICODE: push(make_str(utf8_str(take(take_size(4))))); break;
        case op::BINUNICODE8: push(make_str(utf8_str(take(take_size(8))))); break;
        case op::SHORT_BINBYTES: push(make_leaf(PyValue(PyBytes{std::string(take(take_size(1)))}))); break;
        case op::BINBYTES: push(make_leaf(PyValue(PyBytes{std::string(take(take_size(4)))}))); break;
        case op::BINBYTES8: push(make_leaf(PyValue(PyBytes{std::string(take(take_size(8)))}))); break;
        case op::BYTEARRAY8: push(make_leaf(PyValue(PyByteArray{std::string(take(take_size(8)))}))); break;

        // ---- containers
        case op::EMPTY_LIST: push(make(NodeKind::list)); break;
        case op::EMPTY_DICT: push(make(NodeKind::dict)); break;
        case op::EMPTY_SET: push(make(NodeKind::set)); break;
        case op::EMPTY_TUPLE: push(make(NodeKind::tuple)); break;
        case op::LIST: push(make_sequence(NodeKind::list, pop_mark())); break;
        case op::TUPLE: push(make_sequence(NodeKind::tuple, pop_mark())); break;
        case op::TUPLE1:
        case op::TUPLE2:
        case op::TUPLE3: {
            const std::size_t n = static_cast<std::size_t>(op_ - op::TUPLE1) + 1;
            if (stack_.size() < fence() + n) underflow();
            std::vector<Node*> items(stack_.end() - static_cast<std::ptrdiff_t>(n), stack_.end());
            stack_.resize(stack_.size() - n);
            push(make_sequence(NodeKind::tuple, std::move(items)));
            break;
        }
        case op::DICT: {
            std::vector<Node*> kv = pop_mark();
            if (kv.size() % 2) fail("odd number of items for DICT");
            Node* d = make(NodeKind::dict);
            set_items(d, kv);
            push(d);
            break;
        }
        case op::FROZENSET: {
            std::vector<Node*> items = pop_mark();
            for (const Node* item : items) check_hashable(item);
            push(make_sequence(NodeKind::frozenset, std::move(items)));
            break;
        }
        case op::APPEND: {
            Node* value = pop();
            append(top(), {value});
            break;
        }
        case op::APPENDS: {
            std::vector<Node*> items = pop_mark();
            append(top(), items);
            break;
        }
        case op::SETITEM: {
            Node* value = pop();
            Node* key = pop();
            set_items(top(), {key, value});
            break;
        }
        case op::SETITEMS: {
            std::vector<Node*> kv = pop_mark();
            set_items(top(), kv);
            break;
        }
        case op::ADDITEMS: {
            std::vector<Node*> items = pop_mark();
            add_items(top(), items);
            break;
        }

        // ---- memo
        case op::PUT: memo_put(text_index(line())); break;
        case op::BINPUT: memo_put(take_le(1)); break;
        case op::LONG_BINPUT: memo_put(take_le(4)); break;
        case op::MEMOIZE: memo_put(memo_count_); break;
        case op::GET: memo_get(text_index(line())); break;
        case op::BINGET: memo_get(take_le(1)); break;
        case op::LONG_BINGET: memo_get(take_le(4)); break;

        // ---- globals and object construction
        case op::GLOBAL: {
            const std::string module = utf8_str(line());
            const std::string name = utf8_str(line());
            push(global(module, name));
            break;
        }
        case op::STACK_GLOBAL: {
            Node* name = pop();
            Node* module = pop();
            const PyValue* m = leaf_of(module);
            const PyValue* n = leaf_of(name);
            if (!m || !n || !m->is_str() || !n->is_str()) fail("STACK_GLOBAL requires str");
            push(global(m->as_str(), n->as_str()));
            break;
        }
        case op::REDUCE: {
            Node* args = pop();
            Node* fn = top();
            if (args->kind != NodeKind::tuple)
                fail(fmt::format("REDUCE arguments must be a tuple, not {}", kind_name(args)));
            stack_.back() = apply(fn, args->box->items, false);
            break;
        }
        case op::NEWOBJ: {
            Node* args = pop();
            Node* cls = pop();
            if (args->kind != NodeKind::tuple) fail("NEWOBJ expected an arg tuple");
            push(apply(cls, args->box->items, true));
            break;
        }
        case op::NEWOBJ_EX: {
            Node* kwargs = pop();
            Node* args = pop();
            Node* cls = pop();
            if (args->kind != NodeKind::tuple) fail("NEWOBJ_EX args argument must be a tuple");
            if (kwargs->kind != NodeKind::dict) fail("NEWOBJ_EX kwargs argument must be a dict");
            if (!kwargs->box->slots.empty()) fail("NEWOBJ_EX with keyword arguments is not read");
            push(apply(cls, args->box->items, true));
            break;
        }
        case op::INST: {
            const std::string module = utf8_str(line());
            const std::string name = utf8_str(line());
            Node* cls = global(module, name);
            std::vector<Node*> args = pop_mark();
            push(apply(cls, args, false));
            break;
        }
        case op::OBJ: {
            std::vector<Node*> items = pop_mark();
            if (items.empty()) underflow();
            std::vector<Node*> args(items.begin() + 1, items.end());
            push(apply(items[0], args, false));
            break;
        }
        case op::BUILD: {
            Node* state = pop();
            Node* inst = top();
            const bool empty_state = (state->kind == NodeKind::leaf && state->leaf.is_none()) ||
                                     (state->kind == NodeKind::dict && state->box->slots.empty());
            if (!empty_state) fail(fmt::format("setting the state of a {} (BUILD) is not read", kind_name(inst)));
            break;
        }
        case op::EXT1:
        case op::EXT2:
        case op::EXT4: {
            const std::uint64_t code = take_le(op_ == op::EXT1 ? 1 : op_ == op::EXT2 ? 2 : 4);
            throw PickleRefusedError(fmt::format("extension code {}", code),
                                     fmt::format("refusing to unpickle extension code {} at byte {} (copyreg "
                                                 "extensions name globals; nothing was executed)",
                                                 code, op_pos_));
        }
        case op::PERSID:
        case op::BINPERSID: fail("persistent IDs are not supported");
        case op::NEXT_BUFFER:
        case op::READONLY_BUFFER: fail("out-of-band buffers are not supported");
        default: {
            op_pos_ = pos_ - 1;
            throw PickleError(fmt::format("bad pickle: invalid load key, '\\x{:02x}' at byte {}", op_, op_pos_));
        }
    }
    return nullptr;
}

}  // namespace pickle

PickleLoadResult pickle_load_prefix(std::string_view bytes, const PickleLimits& limits) {
    return pickle::Unpickler(bytes, limits).run();
}

PyValue pickle_loads(std::string_view bytes, const PickleLimits& limits) {
    if (bytes.size() > limits.max_input_size)
        throw PickleError(
            fmt::format("pickle of {} bytes exceeds the limit of {} bytes", bytes.size(), limits.max_input_size));
    return pickle::Unpickler(bytes, limits).run().value;
}

}  // namespace sessionctl
