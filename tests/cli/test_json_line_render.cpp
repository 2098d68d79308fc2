// inspect --json lines are written straight into a string (cli/session_view.cpp
// view_to_json_line). The rendering they replaced, an ordered_json envelope
// dumped by the JSON library with the data spliced in, is kept here as the
// reference: every line must match it byte for byte, over random views
// (strings with escapes, invalid UTF-8, DEL and C1 controls; errors, nulls,
// every field) and over the session values of real pickles.

#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <limits>
#include <memory>
#include <random>
#include <string>

#include <nlohmann/json.hpp>

#include "cli/output.hpp"
#include "cli/pyvalue_json.hpp"
#include "cli/session_view.hpp"
#include "core/pickle_codec.hpp"

using namespace sessionctl;
using namespace sessionctl::cli;

namespace {

// The former view_to_json + dump_json_with_data, unchanged.
std::string reference_line(const SessionView& view) {
    const DecodeResult& d = view.decoded;
    ordered_json j = ordered_json::object();
    j["key"] = view.key;
    j["data"] = nullptr;
    j["expire_date"] = view.expire_unix_micros ? ordered_json(utc_iso(*view.expire_unix_micros)) : ordered_json();
    j["expired"] = view.expired;
    j["user_id"] = view.user_id ? ordered_json(*view.user_id) : ordered_json();
    std::string with = d.verified_with();
    j["verified_with"] = with.empty() ? ordered_json() : ordered_json(with);
    j["error"] = view.error ? ordered_json(*view.error) : ordered_json();
    j["size"] = view.size;
    j["format"] = d.verified ? ordered_json(d.format_name()) : ordered_json();
    j["compressed"] = d.compressed;
    return dump_json_with_data(j, d.ok() ? &d.data : nullptr);
}

struct Gen {
    std::mt19937_64 rng;
    explicit Gen(std::uint64_t seed) : rng(seed) {}

    std::uint64_t below(std::uint64_t n) { return rng() % n; }
    bool coin() { return below(2) == 0; }

    std::string text() {
        static const std::string pool =
            std::string("abcXYZ09 _-:/.{}[]\"\\\x01\x1f\x7f\t\n") +
            "\xc2\x85\xc2\x9f\xc2\xa0\xc3\xa9\xe6\x97\xa5\xed\xa0\x80\xf0\x9f\x98\x80\xff\x80\xc2";
        std::string s(below(14), ' ');
        // Mostly plain ASCII, as sessions hold; sometimes any byte of the pool.
        const bool plain = below(3) != 0;
        for (char& c : s) c = plain ? static_cast<char>('a' + below(26)) : pool[below(pool.size())];
        if (below(20) == 0) s += std::string(1, '\0');
        return s;
    }

    PyTzInfoPtr tz() {
        auto t = std::make_shared<PyTzInfo>();
        switch (below(4)) {
            case 0: break;  // timezone.utc
            case 1:
                t->utcoffset_us =
                    (static_cast<std::int64_t>(below(48)) - 24) * 1800'000'000 + (coin() ? 0 : 17'000'123);
                t->has_name = coin();
                if (t->has_name) t->name = text();
                break;
            case 2: t->kind = PyTzInfo::Kind::pytz_utc; break;
            default:
                t->kind = PyTzInfo::Kind::zoneinfo;
                t->has_utcoffset = false;
                t->key = "Europe/Paris";
        }
        return t;
    }

    PyDateTime datetime() {
        PyDateTime d;
        d.kind = static_cast<PyDateTime::Kind>(below(3));
        d.year = static_cast<std::uint16_t>(1 + below(9999));
        d.month = static_cast<std::uint8_t>(1 + below(12));
        d.day = static_cast<std::uint8_t>(1 + below(28));
        if (d.kind != PyDateTime::Kind::date) {
            d.hour = static_cast<std::uint8_t>(below(24));
            d.minute = static_cast<std::uint8_t>(below(60));
            d.second = static_cast<std::uint8_t>(below(60));
            d.microsecond = coin() ? 0 : static_cast<std::uint32_t>(below(1'000'000));
            if (coin()) d.tzinfo = tz();
        }
        return d;
    }

    PyValue scalar() {
        switch (below(16)) {
            case 0: return PyValue();
            case 1: return PyValue(coin());
            case 2: return PyValue(static_cast<std::int64_t>(rng()));
            case 3: return PyValue(static_cast<std::int64_t>(below(1000)) - 500);
            case 4: return PyValue(PyBigInt{(coin() ? "-" : "") + std::string("1") + std::string(19 + below(20), '7')});
            case 5: {
                const double specials[] = {
                    0.0,        -0.0,         1.5,      1e16,      1e-7,
                    123456.789, std::nan(""), HUGE_VAL, -HUGE_VAL, std::numeric_limits<double>::max(),
                    5e-324};
                return PyValue(coin()
                                   ? specials[below(std::size(specials))]
                                   : std::ldexp(static_cast<double>(rng() >> 11), static_cast<int>(below(200)) - 100));
            }
            case 6: return PyValue(PyBytes{text()});
            case 7: return PyValue(PyByteArray{text()});
            case 8: return PyValue(PyDecimal{coin() ? "1.10" : "-0E-7"});
            case 9: return PyValue(datetime());
            case 10:
                return PyValue(PyTimeDelta{static_cast<std::int64_t>(below(2000)) - 1000,
                                           static_cast<std::int32_t>(below(86400)),
                                           static_cast<std::int32_t>(below(1'000'000))});
            case 11: return PyValue(PyTimezone{tz()});
            default: return PyValue(text());
        }
    }

    PyValue value(int depth) {
        if (depth >= 3 || below(3) != 0) return scalar();
        PyList items;
        for (std::uint64_t i = below(4); i > 0; --i) items.push_back(value(depth + 1));
        switch (below(5)) {
            case 0: return PyValue(std::move(items));
            case 1: return PyValue(PyTuple{std::move(items)});
            case 2: return PyValue(PySet{std::move(items), coin()});
            case 3: return PyValue(PyOrderedDict{dict(depth + 1)});
            default: return PyValue(dict(depth + 1));
        }
    }

    PyDict dict(int depth) {
        PyDict d;
        for (std::uint64_t i = below(5); i > 0; --i) d.set(text(), value(depth));
        return d;
    }

    std::optional<std::int64_t> expiry() {
        switch (below(6)) {
            case 0: return std::nullopt;
            case 1: {
                const std::int64_t edges[] = {0,
                                              -1,
                                              1,
                                              253402300799'999999,
                                              253402300800'000000,
                                              -62135596800'000000,
                                              -62135596800'000001,
                                              -62167219200'000000,
                                              -62167219200'000001,
                                              951782400'000000,
                                              4102444800'000000};
                return edges[below(std::size(edges))];
            }
            case 2: return static_cast<std::int64_t>(below(2'000'000'000)) * 1'000'000;  // whole seconds
            case 3:  // year 0..9999 and a little beyond either end
                return static_cast<std::int64_t>(below(320'000'000'000ULL)) * 1'000'000 - 62'300'000'000'000'000 +
                       static_cast<std::int64_t>(below(1'000'000));
            default:  // now .. a few years ahead, as a TTL gives
                return 1'764'000'000'000'000 + static_cast<std::int64_t>(below(200'000'000'000'000ULL));
        }
    }

    SessionView view(PyValue data) {
        SessionView v;
        v.key = below(4) == 0 ? text() : "abcdefghijklmnopqrstuvwxyz0123" + std::to_string(below(100));
        v.size = below(10) == 0 ? static_cast<std::size_t>(rng()) : below(5000);
        DecodeResult& d = v.decoded;
        d.format = static_cast<PayloadFormat>(below(4));
        d.verified = below(4) != 0;
        if (coin()) d.key_index = below(4);
        d.compressed = below(4) == 0;
        switch (below(6)) {
            case 0: d.status = DecodeStatus::bad_signature; break;
            case 1: d.status = DecodeStatus::malformed; break;
            case 2: d.status = DecodeStatus::expired; break;
            default: d.status = DecodeStatus::ok;
        }
        d.data = std::move(data);
        v.verified_dict = d.ok() && d.data.is_dict();
        if (below(3) != 0) v.user_id = coin() ? std::to_string(below(100000)) : text();
        if (below(3) == 0) v.error = "malformed session data (pickle): " + text();
        v.expire_unix_micros = expiry();
        v.expired = coin();
        return v;
    }
};

void check_same(const SessionView& v) {
    const std::string expected = reference_line(v);
    INFO("reference: " << expected);
    CHECK(view_to_json_line(v) == expected);
}

}  // namespace

TEST_CASE("inspect --json lines are byte for byte the library's rendering: random views", "[cli][json]") {
    Gen gen(20261126);
    for (int round = 0; round < 20000; ++round) {
        PyValue data = gen.below(5) == 0 ? gen.value(0) : PyValue(gen.dict(0));
        check_same(gen.view(std::move(data)));
    }
}

TEST_CASE("inspect --json lines are byte for byte the library's rendering: the bench's sessions", "[cli][json]") {
    PyDict d{{"_auth_user_id", "1042"},
             {"_auth_user_backend", "django.contrib.auth.backends.ModelBackend"},
             {"_auth_user_hash", "ec1cd181bdc8b72893eb56ff6a6e0e813b6693ae31d3da9411b70e767184239e"},
             {"cart", PyList{1, 2, 3}},
             {"seen", 46122}};
    SessionView v;
    v.key = "e13b6fcc004d118abd76eaa1f4b2b534";
    v.size = 217;
    v.decoded.status = DecodeStatus::ok;
    v.decoded.format = PayloadFormat::cache_pickle;
    v.decoded.verified = true;
    v.decoded.data = PyValue(d);
    v.verified_dict = true;
    v.user_id = "1042";
    v.expire_unix_micros = 1'765'339'509'721'414;
    CHECK(view_to_json_line(v) ==
          R"({"key":"e13b6fcc004d118abd76eaa1f4b2b534","data":{"_auth_user_id":"1042",)"
          R"("_auth_user_backend":"django.contrib.auth.backends.ModelBackend",)"
          R"("_auth_user_hash":"ec1cd181bdc8b72893eb56ff6a6e0e813b6693ae31d3da9411b70e767184239e",)"
          R"("cart":[1,2,3],"seen":46122},"expire_date":"2025-12-10T04:05:09.721414+00:00","expired":false,)"
          R"("user_id":"1042","verified_with":null,"error":null,"size":217,"format":"pickle","compressed":false})");
    check_same(v);
    v.expire_unix_micros = 1'765'339'509'000'000;  // no fraction
    check_same(v);
    v.decoded.format = PayloadFormat::signed_sha256;
    v.decoded.key_index = 2;
    check_same(v);
}

TEST_CASE("inspect --json lines are byte for byte the library's rendering: values from pickles", "[cli][json]") {
    // Every pickle in the Django vectors (datetimes, pytz and zoneinfo zones,
    // sets, bytes, big integers...) decoded as a scan decodes it.
    std::size_t pickles = 0;
    Gen gen(7);
    auto visit = [&](auto& self, const nlohmann::json& node) -> void {
        if (node.is_object()) {
            if (auto hex = node.find("hex"); hex != node.end() && hex->is_string()) {
                std::string bytes;
                const std::string& h = hex->get_ref<const std::string&>();
                for (std::size_t i = 0; i + 1 < h.size(); i += 2)
                    bytes += static_cast<char>(std::stoi(h.substr(i, 2), nullptr, 16));
                SessionView v = gen.view(PyValue());
                try {
                    v.decoded.data = pickle_loads(bytes);
                    v.decoded.status = DecodeStatus::ok;
                } catch (const PickleError& e) {
                    v.decoded.status = DecodeStatus::malformed;
                    v.error = std::string("malformed session data (pickle): ") + e.what();
                }
                ++pickles;
                check_same(v);
            }
            for (const auto& item : node) self(self, item);
        } else if (node.is_array()) {
            for (const auto& item : node) self(self, item);
        }
    };
    for (const auto& dir : std::filesystem::directory_iterator(SESSIONCTL_TEST_DATA)) {
        for (const char* name : {"pickle_opcodes.json", "cache.json"}) {
            std::ifstream in(dir.path() / name);
            if (!in) continue;
            visit(visit, nlohmann::json::parse(in));
        }
    }
    CHECK(pickles >= 10);
    // Random values through pickle and back: what a cache scan renders.
    int round_trips = 0;
    for (int round = 0; round < 3000; ++round) {
        PyValue value(gen.dict(0));
        SessionView v = gen.view(PyValue());
        try {
            v.decoded.data = pickle_loads(pickle_dumps(value));
        } catch (const std::exception&) {
            continue;  // a value Python could not hold either (a set in a set)
        }
        v.decoded.status = DecodeStatus::ok;
        ++round_trips;
        check_same(v);
    }
    CHECK(round_trips > 1000);
}
