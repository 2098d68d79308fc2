#pragma once

// Shared helpers for the Django vector tests (tests/test_vectors_*.cpp):
// loading the JSON files produced by real Django (tests/data/<version>/), turning
// their values into PyValue, and counting what was checked so that the run can
// print "vectors: N cases checked (...)" (see test_vectors_summary.cpp).
//
// Header-only on purpose: the tests CMake globs tests/test_*.cpp only.

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <fstream>
#include <limits>
#include <map>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "core/json_codec.hpp"
#include "core/pyvalue.hpp"
#include "core/secret_keys.hpp"
#include "core/session_base.hpp"
#include "core/session_codec.hpp"
#include "core/signer.hpp"

#ifndef SESSIONCTL_TEST_DATA
#error "SESSIONCTL_TEST_DATA must name the tests/data directory"
#endif

namespace vectors {

// Key order matters (Python dicts keep insertion order), so the ordered flavour.
using Json = nlohmann::ordered_json;

struct VersionDir {
    std::string name;  // directory under tests/data
    bool is_3_2;       // Django 3.2.25 (else: main @ afa026cd, the future 6.1)
    [[nodiscard]] std::string path() const { return std::string(SESSIONCTL_TEST_DATA) + "/" + name; }
};

inline const std::vector<VersionDir>& versions() {
    static const std::vector<VersionDir> v{{"django-3.2.25", true}, {"django-6.1.dev-afa026cd", false}};
    return v;
}

inline const VersionDir& version_3_2() { return versions()[0]; }
inline const VersionDir& version_6_1() { return versions()[1]; }

// "3.2.25" / "6.1" as the files' source_version fields spell them.
inline const VersionDir& version_by_source(std::string_view source_version) {
    if (source_version.rfind("3.2", 0) == 0) return version_3_2();
    if (source_version.rfind("6.1", 0) == 0) return version_6_1();
    throw std::runtime_error("unknown source_version " + std::string(source_version));
}

// ---- loading

// nlohmann turns an integer literal beyond 64 bits (Python's 2**70) into a
// double and loses digits. This SAX builder keeps such literals exactly, as the
// marker object {"$bigint": "<digits>"}, next to the files' own "$float" markers.
class ExactNumberSax final : public nlohmann::json_sax<Json> {
public:
    Json result;

    bool null() override { return put(Json(nullptr)); }
    bool boolean(bool v) override { return put(Json(v)); }
    bool number_integer(number_integer_t v) override { return put(Json(v)); }
    bool number_unsigned(number_unsigned_t v) override {
        if (v > static_cast<number_unsigned_t>(std::numeric_limits<std::int64_t>::max()))
            return put(Json{{"$bigint", std::to_string(v)}});
        return put(Json(static_cast<std::int64_t>(v)));
    }
    bool number_float(number_float_t v, const string_t& text) override {
        if (text.find_first_of(".eE") == string_t::npos) return put(Json{{"$bigint", text}});
        return put(Json(v));
    }
    bool string(string_t& v) override { return put(Json(v)); }
    bool binary(binary_t& v) override { return put(Json::binary(v)); }
    bool start_object(std::size_t) override { return open(Json::object()); }
    bool key(string_t& k) override {
        key_ = k;
        return true;
    }
    bool end_object() override { return close(); }
    bool start_array(std::size_t) override { return open(Json::array()); }
    bool end_array() override { return close(); }
    bool parse_error(std::size_t position, const std::string& token, const nlohmann::detail::exception& e) override {
        throw std::runtime_error("vector JSON parse error at " + std::to_string(position) + " near '" + token +
                                 "': " + e.what());
    }

private:
    Json* insert(Json value) {
        if (stack_.empty()) {
            result = std::move(value);
            return &result;
        }
        Json& top = *stack_.back();
        if (top.is_array()) {
            top.push_back(std::move(value));
            return &top.back();
        }
        top[key_] = std::move(value);
        return &top[key_];
    }
    bool put(Json value) {
        insert(std::move(value));
        return true;
    }
    bool open(Json container) {
        stack_.push_back(insert(std::move(container)));
        return true;
    }
    bool close() {
        stack_.pop_back();
        return true;
    }

    std::vector<Json*> stack_;
    std::string key_;
};

inline std::string read_text(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error("cannot open " + path);
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

// tests/data/<version>/<file>, parsed once per run.
inline const Json& load(const VersionDir& dir, std::string_view file) {
    static std::map<std::string, std::unique_ptr<Json>> cache;
    std::string path = dir.path() + "/" + std::string(file);
    auto it = cache.find(path);
    if (it != cache.end()) return *it->second;
    ExactNumberSax sax;
    std::string text = read_text(path);
    Json::sax_parse(text, &sax);
    auto owned = std::make_unique<Json>(std::move(sax.result));
    const Json& ref = *owned;
    cache.emplace(path, std::move(owned));
    return ref;
}

// meta.secret_key_used_unless_stated, or the case's own "secret".
inline std::string secret_of(const Json& doc, const Json& item) {
    if (item.contains("secret") && item["secret"].is_string()) return item["secret"].get<std::string>();
    return doc["meta"]["secret_key_used_unless_stated"].get<std::string>();
}

inline sessionctl::SecretKeys keys_of(const Json& doc, const Json& item) {
    sessionctl::SecretKeys keys{secret_of(doc, item), {}};
    if (item.contains("fallbacks"))
        for (const auto& f : item["fallbacks"]) keys.fallbacks.push_back(f.get<std::string>());
    return keys;
}

// Finds the element of `array` whose `field` equals `value`; nullptr when none.
inline const Json* find_by(const Json& array, std::string_view field, std::string_view value) {
    for (const auto& item : array)
        if (item.contains(field) && item[std::string(field)].is_string() &&
            item[std::string(field)].get<std::string>() == value)
            return &item;
    return nullptr;
}

// ---- bytes

inline std::string from_hex(std::string_view hex) {
    auto nibble = [](char c) -> int {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        if (c >= 'A' && c <= 'F') return c - 'A' + 10;
        throw std::runtime_error("bad hex digit");
    };
    if (hex.size() % 2) throw std::runtime_error("odd hex length");
    std::string out;
    for (std::size_t i = 0; i < hex.size(); i += 2) out += static_cast<char>(nibble(hex[i]) * 16 + nibble(hex[i + 1]));
    return out;
}

inline std::string hex_of(std::string_view bytes) {
    static constexpr char digits[] = "0123456789abcdef";
    std::string out;
    for (unsigned char c : bytes) {
        out += digits[c >> 4];
        out += digits[c & 15];
    }
    return out;
}

// An independent (plain OpenSSL) hash / HMAC, to check core's salted_hmac
// against the vectors' derived_key_hex without going through it.
inline std::string plain_digest_hex(bool sha1, std::string_view data) {
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (!EVP_Digest(data.data(), data.size(), out, &len, sha1 ? EVP_sha1() : EVP_sha256(), nullptr))
        throw std::runtime_error("EVP_Digest failed");
    return hex_of(std::string_view(reinterpret_cast<const char*>(out), len));
}

inline std::string plain_hmac(bool sha1, std::string_view key, std::string_view data) {
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (!HMAC(sha1 ? EVP_sha1() : EVP_sha256(), key.data(), static_cast<int>(key.size()),
              reinterpret_cast<const unsigned char*>(data.data()), data.size(), out, &len))
        throw std::runtime_error("HMAC failed");
    return std::string(reinterpret_cast<const char*>(out), len);
}

// ---- conversions

// A vector value as the Python object it stands for. The files show what JSON
// cannot hold as markers: {"$float": "nan"|"inf"|"-inf"} (README), plus our
// {"$bigint": "digits"} from ExactNumberSax. Any other "$..." marker (datetime,
// bytes, set, ...) has no PyValue form and throws.
inline sessionctl::PyValue to_py(const Json& j) {
    using sessionctl::PyValue;
    switch (j.type()) {
        case Json::value_t::null: return PyValue();
        case Json::value_t::boolean: return PyValue(j.get<bool>());
        case Json::value_t::number_integer: return PyValue(j.get<std::int64_t>());
        case Json::value_t::number_unsigned: return PyValue(static_cast<std::int64_t>(j.get<std::uint64_t>()));
        case Json::value_t::number_float: return PyValue(j.get<double>());
        case Json::value_t::string: return PyValue(j.get<std::string>());
        case Json::value_t::array: {
            sessionctl::PyList list;
            for (const auto& e : j) list.push_back(to_py(e));
            return PyValue(std::move(list));
        }
        case Json::value_t::object: {
            if (j.size() == 1 && j.begin().key().rfind('$', 0) == 0) {
                const std::string& marker = j.begin().key();
                const Json& v = j.begin().value();
                if (marker == "$bigint") {
                    std::string digits = v.get<std::string>();
                    return PyValue(sessionctl::PyBigInt{digits});
                }
                if (marker == "$float") {
                    std::string f = v.get<std::string>();
                    if (f == "nan") return PyValue(std::numeric_limits<double>::quiet_NaN());
                    if (f == "inf") return PyValue(std::numeric_limits<double>::infinity());
                    if (f == "-inf") return PyValue(-std::numeric_limits<double>::infinity());
                    throw std::runtime_error("unknown $float marker " + f);
                }
                throw std::runtime_error("vector value " + marker + " has no PyValue form");
            }
            sessionctl::PyDict dict;
            for (auto it = j.begin(); it != j.end(); ++it) dict.set(it.key(), to_py(it.value()));
            return PyValue(std::move(dict));
        }
        default: throw std::runtime_error("unsupported vector value type");
    }
}

// Python's json.dumps(expected, separators=(",", ":")) for a vector value,
// i.e. the bytes Django's JSONSerializer would write for it.
inline std::string expected_dumps(const Json& j) { return sessionctl::json_dumps(to_py(j)); }

// ---- decode outcomes
//
// How Django's observed decode() outcome maps to our DecodeStatus. One rule,
// applied to decode.json, legacy.json and cross_decode.json alike:
//
//  * a result that is a non-empty dict, or not a dict at all -> ok, verified,
//    the same value (json.dumps-equal). A non-dict (list, str, null) is ok with
//    !is_object().
//  * result {} (with or without the "Session data corrupted" warning) or an
//    exception (3.2's binascii.Error escaping decode()) -> not ok, and
//      - if the input's envelope signature verifies with the configured
//        secrets, Django got past the signature and failed on the payload:
//        malformed, with the broken part named (timestamp/base64/zlib/json),
//        never "envelope", and verified;
//      - otherwise: bad_signature, or malformed with part "envelope" (a value
//        with no ':' has nothing that could be a signature); not verified.
//    Django's logging differs between versions for the same input: 3.2 re-reads
//    a correctly signed but broken value as a pre-3.1 legacy string, which may
//    raise binascii.Error or log "Session data corrupted" (its legacy HMAC check
//    fails); and 3.2 does not log for "" and "::" because their legacy base64
//    decodes to bytes without ':'. Those are artefacts of 3.2's fallback, not
//    properties of the value, so the class is decided by the signature check.
//  * a genuinely empty session ({} that was encoded as {}) is the caller's
//    business: pass expect_valid = true and the result must be ok.

inline bool envelope_signature_verifies(const sessionctl::SecretKeys& keys, const std::string& salt,
                                        const std::string& input) {
    auto sep = input.rfind(':');
    if (sep == std::string::npos) return false;
    return sessionctl::Signer(keys, salt)
        .verify(input.substr(0, sep), input.substr(sep + 1), /*accept_sha1=*/true)
        .has_value();
}

// `outcome` is {"result": ...} or {"exception": ...} as the files record it.
inline void check_decode_outcome(const sessionctl::DecodeResult& r, const Json& outcome,
                                 const sessionctl::SecretKeys& keys, const std::string& salt, const std::string& input,
                                 bool expect_valid = false) {
    using sessionctl::DecodeStatus;
    const bool raised = outcome.contains("exception");
    const bool empty_dict = !raised && outcome["result"].is_object() && outcome["result"].empty();
    if (expect_valid || (!raised && !empty_dict)) {
        CHECK(r.status == DecodeStatus::ok);
        CHECK(r.verified);
        REQUIRE_FALSE(raised);
        CHECK(sessionctl::json_dumps(r.data) == expected_dumps(outcome["result"]));
        CHECK(r.is_object() == outcome["result"].is_object());
        return;
    }
    CHECK_FALSE(r.ok());
    // What a store hands to the session for it: {} as Django does.
    CHECK(sessionctl::SessionBase::session_dict_from(r).empty());
    if (envelope_signature_verifies(keys, salt, input)) {
        CHECK(r.status == DecodeStatus::malformed);
        CHECK(r.malformed_part != "envelope");
        CHECK(r.verified);
    } else {
        const bool failure_class = r.status == DecodeStatus::bad_signature ||
                                   (r.status == DecodeStatus::malformed && r.malformed_part == "envelope");
        CHECK(failure_class);
        CHECK_FALSE(r.verified);
    }
}

// ---- counting

struct Tally {
    std::map<std::string, std::size_t> checked;
    std::map<std::string, std::size_t> skipped;
    std::vector<std::string> skip_reasons;  // "file: version/id: reason"
};

inline Tally& tally() {
    static Tally t;
    return t;
}

inline void count_checked(const std::string& file, std::size_t n = 1) { tally().checked[file] += n; }

inline void count_skipped(const std::string& file, const VersionDir& dir, const std::string& id,
                          const std::string& reason) {
    tally().skipped[file] += 1;
    tally().skip_reasons.push_back(file + ": " + dir.name + "/" + id + ": " + reason);
}

// The files in the order the summary lists them.
inline const std::vector<std::string>& summary_order() {
    static const std::vector<std::string> order{"signing", "legacy", "decode",        "expiry",
                                                "keys",    "auth",   "signed_cookie", "cross_decode"};
    return order;
}

}  // namespace vectors
