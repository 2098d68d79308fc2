#include "core/pickle_unpickler.hpp"

// The globals a pickle may name, and what a call to each builds. Nothing is
// ever called: REDUCE / NEWOBJ / OBJ / INST on a whitelisted global map its
// arguments to a PyValue, as the Python constructor would have built it.

#include <cstdint>
#include <memory>
#include <string>

#include <fmt/format.h>

#include "core/datetime.hpp"
#include "core/python_datetime.hpp"
#include "core/python_decimal.hpp"
#include "core/python_repr.hpp"
#include "util/integer.hpp"
#include "util/utf8.hpp"

namespace sessionctl::pickle {
namespace {

struct WhitelistEntry {
    std::string_view module;
    std::string_view name;
    Callable callable;
    bool is_class;  // NEWOBJ needs a class
};

// "__builtin__" is Python 2's name, which pickle's fix_imports maps for
// protocols 0-2.
constexpr WhitelistEntry kWhitelist[] = {
    {"datetime", "datetime", Callable::datetime, true},
    {"datetime", "date", Callable::date, true},
    {"datetime", "time", Callable::time, true},
    {"datetime", "timedelta", Callable::timedelta, true},
    {"datetime", "timezone", Callable::timezone, true},
    {"pytz", "_UTC", Callable::pytz_utc, false},
    {"pytz", "_p", Callable::pytz_p, false},
    {"pytz", "utc", Callable::none, false},
    {"pytz", "UTC", Callable::none, false},
    {"decimal", "Decimal", Callable::decimal, true},
    {"_pydecimal", "Decimal", Callable::decimal, true},
    {"collections", "OrderedDict", Callable::ordered_dict, true},
    {"builtins", "set", Callable::set, true},
    {"builtins", "frozenset", Callable::frozenset, true},
    {"builtins", "bytes", Callable::bytes, true},
    {"builtins", "bytearray", Callable::bytearray, true},
    {"builtins", "getattr", Callable::getattr, false},
    {"__builtin__", "set", Callable::set, true},
    {"__builtin__", "frozenset", Callable::frozenset, true},
    {"__builtin__", "bytes", Callable::bytes, true},
    {"__builtin__", "bytearray", Callable::bytearray, true},
    {"__builtin__", "getattr", Callable::getattr, false},
    {"_codecs", "encode", Callable::codecs_encode, false},
    {"codecs", "encode", Callable::codecs_encode, false},
    {"zoneinfo", "ZoneInfo", Callable::zoneinfo, true},
    {"zoneinfo", "ZoneInfo._unpickle", Callable::zoneinfo_unpickle, false},
};

const PyTzInfoPtr& pytz_utc_info() {
    static const PyTzInfoPtr info = [] {
        PyTzInfo tz;
        tz.kind = PyTzInfo::Kind::pytz_utc;
        return std::make_shared<const PyTzInfo>(tz);
    }();
    return info;
}

bool is_class(Callable c) {
    for (const auto& e : kWhitelist)
        if (e.callable == c) return e.is_class;
    return false;
}

bool is_latin1_name(std::string_view enc) {
    std::string e(enc);
    for (auto& c : e) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : (c == '_' ? '-' : c));
    return e == "latin1" || e == "latin-1" || e == "iso-8859-1" || e == "iso8859-1" || e == "l1";
}

}  // namespace

Node* Unpickler::global(std::string_view module, std::string_view name) {
    const std::string full = std::string(module) + "." + std::string(name);
    for (const auto& e : kWhitelist) {
        if (e.module != module || e.name != name) continue;
        if (e.callable == Callable::none) return make_leaf(PyValue(PyTimezone{pytz_utc_info()}));
        Node* n = make(NodeKind::global);
        n->callable = e.callable;
        n->leaf = PyValue(full);
        return n;
    }
    refuse(full);
}

std::int64_t Unpickler::int_arg(const Node* n, const std::string& fn, const char* what) {
    const PyValue* v = leaf_of(n);
    if (v && v->is_int()) return v->as_int();
    if (v && v->is_bool()) return v->as_bool() ? 1 : 0;
    fail(fmt::format("{}: {} must be an int, not {}", fn, what, kind_name(n)));
}

const std::string& Unpickler::str_arg(const Node* n, const std::string& fn, const char* what) {
    const PyValue* v = leaf_of(n);
    if (v && v->is_str()) return v->as_str();
    fail(fmt::format("{}: {} must be a str, not {}", fn, what, kind_name(n)));
}

std::optional<std::string> Unpickler::state_bytes(const Node* n) {
    const PyValue* v = leaf_of(n);
    if (!v) return std::nullopt;
    if (v->holds<PyBytes>()) return v->get<PyBytes>().data;
    if (v->is_str()) {
        std::string out;
        const std::string& s = v->as_str();
        for (std::size_t i = 0; i < s.size();) {
            const std::uint32_t cp = next_code_point(s, i);
            if (cp > 0xFF) return std::nullopt;
            out += static_cast<char>(cp);
        }
        return out;
    }
    return std::nullopt;
}

PyTzInfoPtr Unpickler::tz_arg(const Node* n, const std::string& fn) {
    const PyValue* v = leaf_of(n);
    if (v && v->is_none()) return nullptr;
    if (v && v->holds<PyTimezone>()) return v->get<PyTimezone>().info;
    fail(fmt::format("{}: bad tzinfo state arg (a {})", fn, kind_name(n)));
}

const std::vector<Node*>& Unpickler::iterable_arg(const Node* n, const std::string& fn) {
    if (n->kind == NodeKind::list || n->kind == NodeKind::tuple || n->kind == NodeKind::set ||
        n->kind == NodeKind::frozenset)
        return n->box->items;
    fail(fmt::format("{}: cannot read items from a {}", fn, kind_name(n)));
}

void Unpickler::check_datetime(const PyDateTime& d, const std::string& fn) {
    if (d.kind != PyDateTime::Kind::time) {
        if (d.year < 1 || d.year > 9999) fail(fmt::format("{}: year {} is out of range", fn, d.year));
        if (d.month < 1 || d.month > 12) fail(fmt::format("{}: month must be in 1..12", fn));
        if (d.day < 1 || d.day > days_in_month(d.year, d.month))
            fail(fmt::format("{}: day is out of range for month", fn));
    }
    if (d.hour > 23) fail(fmt::format("{}: hour must be in 0..23", fn));
    if (d.minute > 59) fail(fmt::format("{}: minute must be in 0..59", fn));
    if (d.second > 59) fail(fmt::format("{}: second must be in 0..59", fn));
    if (d.microsecond > 999'999) fail(fmt::format("{}: microsecond must be in 0..999999", fn));
    if (d.fold > 1) fail(fmt::format("{}: fold must be either 0 or 1", fn));
}

Node* Unpickler::make_datetime(PyDateTime::Kind kind, const std::vector<Node*>& args, const std::string& fn) {
    PyDateTime d;
    d.kind = kind;
    const std::size_t state_len = kind == PyDateTime::Kind::datetime ? 10 : kind == PyDateTime::Kind::date ? 4 : 6;
    std::optional<std::string> state;
    if (!args.empty() && args.size() <= (kind == PyDateTime::Kind::date ? 1u : 2u)) state = state_bytes(args[0]);
    if (state && state->size() == state_len) {
        const auto* b = reinterpret_cast<const unsigned char*>(state->data());
        if (kind == PyDateTime::Kind::time) {
            d.hour = b[0] & 0x7F;
            d.fold = b[0] >> 7;
            d.minute = b[1];
            d.second = b[2];
            d.microsecond = (std::uint32_t{b[3]} << 16) | (std::uint32_t{b[4]} << 8) | b[5];
        } else {
            d.year = static_cast<std::uint16_t>(b[0] * 256 + b[1]);
            d.month = b[2] & 0x7F;
            d.day = b[3];
            if (kind == PyDateTime::Kind::datetime) {
                d.fold = b[2] >> 7;
                d.hour = b[4];
                d.minute = b[5];
                d.second = b[6];
                d.microsecond = (std::uint32_t{b[7]} << 16) | (std::uint32_t{b[8]} << 8) | b[9];
            } else if (b[2] & 0x80) {
                fail(fn + ": bad date state");
            }
        }
        if (args.size() == 2) d.tzinfo = tz_arg(args[1], fn);
    } else {
        // datetime(year, month, day, hour=0, minute=0, second=0,
        // microsecond=0, tzinfo=None); date(year, month, day);
        // time(hour=0, minute=0, second=0, microsecond=0, tzinfo=None).
        const std::size_t nints = kind == PyDateTime::Kind::datetime ? 7 : kind == PyDateTime::Kind::date ? 3 : 4;
        const std::size_t required = kind == PyDateTime::Kind::time ? 0 : 3;
        const std::size_t max_args = kind == PyDateTime::Kind::date ? 3 : nints + 1;
        if (args.size() < required || args.size() > max_args)
            fail(fmt::format("{}: takes {} to {} arguments, not {}", fn, required, max_args, args.size()));
        std::int64_t v[7] = {0, 0, 0, 0, 0, 0, 0};
        for (std::size_t i = 0; i < args.size() && i < nints; ++i) v[i] = int_arg(args[i], fn, "each field");
        if (args.size() > nints) d.tzinfo = tz_arg(args[nints], fn);
        auto field = [&](std::int64_t x, std::int64_t hi) -> std::int64_t {
            if (x < 0 || x > hi) fail(fmt::format("{}: a field is out of range", fn));
            return x;
        };
        if (kind == PyDateTime::Kind::time) {
            d.hour = static_cast<std::uint8_t>(field(v[0], 23));
            d.minute = static_cast<std::uint8_t>(field(v[1], 59));
            d.second = static_cast<std::uint8_t>(field(v[2], 59));
            d.microsecond = static_cast<std::uint32_t>(field(v[3], 999'999));
        } else {
            d.year = static_cast<std::uint16_t>(field(v[0], 9999));
            d.month = static_cast<std::uint8_t>(field(v[1], 12));
            d.day = static_cast<std::uint8_t>(field(v[2], 31));
            d.hour = static_cast<std::uint8_t>(field(v[3], 23));
            d.minute = static_cast<std::uint8_t>(field(v[4], 59));
            d.second = static_cast<std::uint8_t>(field(v[5], 59));
            d.microsecond = static_cast<std::uint32_t>(field(v[6], 999'999));
        }
    }
    check_datetime(d, fn);
    return make_leaf(PyValue(std::move(d)));
}

Node* Unpickler::make_timedelta(const std::vector<Node*>& args, const std::string& fn) {
    if (args.size() > 3) fail(fmt::format("{}: only days, seconds and microseconds are read", fn));
    std::int64_t v[3] = {0, 0, 0};
    for (std::size_t i = 0; i < args.size(); ++i) v[i] = int_arg(args[i], fn, "each field");
    constexpr std::int64_t kMaxDays = 999'999'999;
    // Normalize as timedelta does, without overflowing.
    std::int64_t secs = 0;
    std::int64_t days = 0;
    if (__builtin_add_overflow(v[1], floor_div(v[2], kMicrosPerSecond), &secs) ||
        __builtin_add_overflow(v[0], floor_div(secs, 86'400), &days) || days > kMaxDays || days < -kMaxDays)
        fail(fmt::format("{}: days must have magnitude <= {}", fn, kMaxDays));
    PyTimeDelta td;
    td.days = days;
    td.seconds = static_cast<std::int32_t>(secs - floor_div(secs, 86'400) * 86'400);
    td.microseconds = static_cast<std::int32_t>(v[2] - floor_div(v[2], kMicrosPerSecond) * kMicrosPerSecond);
    return make_leaf(PyValue(td));
}

Node* Unpickler::make_timezone(const std::vector<Node*>& args, const std::string& fn) {
    if (args.empty() || args.size() > 2) fail(fn + ": takes an offset and an optional name");
    const PyValue* off = leaf_of(args[0]);
    if (!off || !off->holds<PyTimeDelta>()) fail(fn + ": offset must be a timedelta");
    const PyTimeDelta& td = off->get<PyTimeDelta>();
    if (td.days < -1 || td.days > 0 || (td.days == -1 && td.seconds == 0 && td.microseconds == 0))
        fail(fn + ": offset must be a timedelta strictly between -timedelta(hours=24) and timedelta(hours=24)");
    PyTzInfo tz;
    tz.kind = PyTzInfo::Kind::fixed;
    tz.utcoffset_us = td.days * kMicrosPerDay + td.seconds * kMicrosPerSecond + td.microseconds;
    if (args.size() == 2) {
        tz.has_name = true;
        tz.name = str_arg(args[1], fn, "name");
    }
    return make_leaf(PyValue(PyTimezone{std::make_shared<const PyTzInfo>(std::move(tz))}));
}

Node* Unpickler::make_pytz_zone(const std::vector<Node*>& args, const std::string& fn) {
    if (args.empty() || args.size() > 4) fail(fn + ": takes a zone and up to three more arguments");
    PyTzInfo tz;
    tz.kind = PyTzInfo::Kind::pytz_zone;
    tz.key = str_arg(args[0], fn, "zone");
    if (args.size() == 1) {
        if (tz.key == "UTC") return make_leaf(PyValue(PyTimezone{pytz_utc_info()}));
        tz.has_utcoffset = false;
    } else {
        auto seconds = [&](std::size_t i) -> std::int64_t {
            const std::int64_t s = int_arg(args[i], fn, "an offset");
            if (s <= -86'400 || s >= 86'400) fail(fn + ": offset out of range");
            return s * kMicrosPerSecond;
        };
        tz.utcoffset_us = seconds(1);
        if (args.size() > 2) tz.dst_us = seconds(2);
        if (args.size() > 3) tz.name = str_arg(args[3], fn, "tzname");
    }
    return make_leaf(PyValue(PyTimezone{std::make_shared<const PyTzInfo>(std::move(tz))}));
}

Node* Unpickler::make_zoneinfo(const std::string& key, bool cached) {
    PyTzInfo tz;
    tz.kind = PyTzInfo::Kind::zoneinfo;
    tz.has_utcoffset = false;
    tz.key = key;
    tz.zoneinfo_cached = cached;
    return make_leaf(PyValue(PyTimezone{std::make_shared<const PyTzInfo>(std::move(tz))}));
}

Node* Unpickler::latin1_bytes(const std::string& s, const std::string& fn) {
    std::string out;
    for (std::size_t i = 0; i < s.size();) {
        const std::uint32_t cp = next_code_point(s, i);
        if (cp > 0xFF) fail(fn + ": 'latin-1' codec can't encode a character beyond U+00FF");
        out += static_cast<char>(cp);
    }
    return make_leaf(PyValue(PyBytes{std::move(out)}));
}

Node* Unpickler::apply(const Node* fn_node, const std::vector<Node*>& args, bool fresh) {
    if (fn_node->kind != NodeKind::global)
        fail(fmt::format("a {} is not callable (only whitelisted constructors are)", kind_name(fn_node)));
    const Callable c = fn_node->callable;
    const std::string& fn = fn_node->leaf.as_str();
    if (fresh && !is_class(c)) fail(fn + " is not a class (NEWOBJ)");
    switch (c) {
        case Callable::none: break;
        case Callable::datetime: return make_datetime(PyDateTime::Kind::datetime, args, fn);
        case Callable::date: return make_datetime(PyDateTime::Kind::date, args, fn);
        case Callable::time: return make_datetime(PyDateTime::Kind::time, args, fn);
        case Callable::timedelta: return make_timedelta(args, fn);
        case Callable::timezone: return make_timezone(args, fn);
        case Callable::pytz_utc:
            if (!args.empty()) fail(fn + "() takes no arguments");
            return make_leaf(PyValue(PyTimezone{pytz_utc_info()}));
        case Callable::pytz_p: return make_pytz_zone(args, fn);
        case Callable::decimal: {
            if (args.empty()) return make_leaf(PyValue(PyDecimal{"0"}));
            if (args.size() > 2) fail(fn + ": takes a value and an optional context");
            const PyValue* v = leaf_of(args[0]);
            if (v && (v->is_int() || v->is_bigint()))
                return make_leaf(
                    PyValue(PyDecimal{v->is_int() ? std::to_string(v->as_int()) : v->as_bigint().decimal}));
            if (v && v->holds<PyDecimal>()) return make_leaf(*v);
            auto text = decimal_canonical(str_arg(args[0], fn, "the value"));
            if (!text) fail(fn + ": invalid literal " + str_repr(v->as_str()));
            return make_leaf(PyValue(PyDecimal{std::move(*text)}));
        }
        case Callable::ordered_dict: {
            Node* od = make(NodeKind::ordered_dict);
            if (fresh) return od;
            if (args.size() > 1) fail(fn + " expected at most 1 argument");
            if (args.empty()) return od;
            const Node* src = args[0];
            if (src->kind == NodeKind::dict || src->kind == NodeKind::ordered_dict) {
                *od->box = *src->box;
                for (const DictSlot& slot : od->box->slots) ++slot.value->uses;
                return od;
            }
            for (const Node* pair : iterable_arg(src, fn)) {
                if ((pair->kind != NodeKind::tuple && pair->kind != NodeKind::list) || pair->box->items.size() != 2)
                    fail(fn + ": items must be pairs");
                set_items(od, pair->box->items);
            }
            return od;
        }
        case Callable::set:
        case Callable::frozenset: {
            const NodeKind kind = c == Callable::set ? NodeKind::set : NodeKind::frozenset;
            if (args.size() > 1) fail(fn + " expected at most 1 argument");
            if (args.empty() || (fresh && c == Callable::set)) return make(kind);
            std::vector<Node*> items;
            for (Node* item : iterable_arg(args[0], fn)) {
                check_hashable(item);
                items.push_back(item);
            }
            return make_sequence(kind, std::move(items));  // counts the new references
        }
        case Callable::bytes:
        case Callable::bytearray: {
            const bool array = c == Callable::bytearray;
            if (args.empty() || (fresh && array))
                return array ? make_leaf(PyValue(PyByteArray{})) : make_leaf(PyValue(PyBytes{}));
            const PyValue* v = leaf_of(args[0]);
            std::string data;
            if (args.size() == 1 && v && (v->holds<PyBytes>() || v->holds<PyByteArray>())) {
                data = v->holds<PyBytes>() ? v->get<PyBytes>().data : v->get<PyByteArray>().data;
            } else if (args.size() == 2 && v && v->is_str() && is_latin1_name(str_arg(args[1], fn, "encoding"))) {
                data = latin1_bytes(v->as_str(), fn)->leaf.get<PyBytes>().data;
            } else {
                fail(fn + ": only bytes, or a str with the latin-1 encoding, are read");
            }
            return array ? make_leaf(PyValue(PyByteArray{std::move(data)}))
                         : make_leaf(PyValue(PyBytes{std::move(data)}));
        }
        case Callable::codecs_encode: {
            if (args.size() != 2) fail(fn + ": takes a str and an encoding");
            const std::string& s = str_arg(args[0], fn, "the text");
            if (!is_latin1_name(str_arg(args[1], fn, "encoding"))) fail(fn + ": only the latin-1 encoding is read");
            return latin1_bytes(s, fn);
        }
        case Callable::getattr: {
            if (args.size() == 2 && args[0]->kind == NodeKind::global && args[0]->callable == Callable::zoneinfo &&
                leaf_of(args[1]) && leaf_of(args[1])->is_str() && leaf_of(args[1])->as_str() == "_unpickle") {
                Node* n = make(NodeKind::global);
                n->callable = Callable::zoneinfo_unpickle;
                n->leaf = PyValue("zoneinfo.ZoneInfo._unpickle");
                return n;
            }
            // Anything else read through getattr is a global we do not know.
            std::string target = args.empty()                        ? "?"
                                 : args[0]->kind == NodeKind::global ? args[0]->leaf.as_str()
                                                                     : kind_name(args[0]);
            if (args.size() == 2 && leaf_of(args[1]) && leaf_of(args[1])->is_str())
                target += "." + leaf_of(args[1])->as_str();
            refuse(fn + "(" + target + ")");
        }
        case Callable::zoneinfo: {
            if (args.size() != 1) fail(fn + ": takes a key");
            return make_zoneinfo(str_arg(args[0], fn, "key"), true);
        }
        case Callable::zoneinfo_unpickle: {
            if (args.size() != 2) fail(fn + ": takes a key and from_cache");
            return make_zoneinfo(str_arg(args[0], fn, "key"), int_arg(args[1], fn, "from_cache") != 0);
        }
    }
    fail(fn + " is not callable");
}

}  // namespace sessionctl::pickle
