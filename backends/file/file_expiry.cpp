#include "backends/file/file_expiry.hpp"

#include <cmath>
#include <cstring>
#include <exception>
#include <utility>

#include <fmt/format.h>

#include "core/base64.hpp"
#include "core/expiry.hpp"
#include "core/session_codec.hpp"
#include "core/zlib_codec.hpp"

namespace sessionctl::file_detail {
namespace {

// `expiry_age <= 0` with Python's comparison rules for whatever
// get_expiry_age() returned (an int, a float, True, or 3.2's string).
bool age_is_not_positive(const PyValue& age) {
    if (age.is_int()) return age.as_int() <= 0;
    if (age.is_bigint()) return !age.as_bigint().decimal.empty() && age.as_bigint().decimal[0] == '-';
    if (age.is_float()) return age.as_float() <= 0.0;  // NaN: false
    if (age.is_bool()) return !age.as_bool();
    throw ExpiryError("TypeError",
                      fmt::format("'<=' not supported between instances of '{}' and 'int'", age.type_name()));
}

// True when decoding `content` cannot give a dict holding _session_expiry,
// found without the signature check or a JSON parse (most sessions have no
// _session_expiry, and for them expiry is mtime + age whatever the decoding
// says). The payload the codec would decode is looked at: the signed
// envelope's (base64url, maybe zlib), or for a value without ':' the pre-3.1
// one (base64 of "hash:json"; a value with ':' reaches that format only as
// base64 junk whose HMAC would have to match). It may contain neither the
// key's literal nor a backslash (the only other way to spell a JSON key),
// and the envelope's must be JSON text ('{' first): anything else, or any
// doubt, means "decode it".
bool cannot_hold_expiry(std::string_view content, std::size_t max_inflated) {
    constexpr std::string_view kKey = SessionBase::EXPIRY_KEY;
    auto may_name_it = [&](std::string_view bytes) {
        return bytes.find(kKey) != std::string_view::npos || bytes.find('\\') != std::string_view::npos;
    };
    auto sig = content.rfind(':');
    if (sig == std::string_view::npos) {
        try {
            std::string legacy = b64_decode_lenient(content);
            auto colon = legacy.find(':');
            return colon == std::string::npos || !may_name_it(std::string_view(legacy).substr(colon + 1));
        } catch (const std::exception&) {
            return true;  // not base64 either: no data at all
        }
    }
    std::string_view value = content.substr(0, sig);
    auto ts = value.rfind(':');
    if (ts == std::string_view::npos) return true;  // malformed envelope: no data
    std::string_view payload = value.substr(0, ts);
    bool compressed = !payload.empty() && payload.front() == '.';
    if (compressed) payload.remove_prefix(1);
    std::string bytes;
    try {
        bytes = b64url_decode_django(payload);
        if (compressed) bytes = zlib_decompress(bytes, max_inflated);
    } catch (const std::exception&) {
        return true;  // malformed: no data from the envelope
    }
    auto first = bytes.find_first_not_of(" \t\n\r");
    return first != std::string::npos && bytes[first] == '{' && !may_name_it(bytes);
}

}  // namespace

// datetime.fromtimestamp(os.stat(path).st_mtime): st_mtime is the double
// sec + nsec * 1e-9, whose fraction Python rounds half-even to microseconds.
// Done the same way so that a boundary (mtime + age == now) falls as in Django.
std::int64_t python_mtime_micros(const FileIdentity& id) {
    double t = static_cast<double>(id.mtime_sec) + static_cast<double>(id.mtime_nsec) * 1e-9;
    double whole = 0;
    double frac = std::modf(t, &whole) * 1e6;
    frac = std::nearbyint(frac);  // default rounding mode: half to even
    if (frac >= 1e6) {
        frac -= 1e6;
        whole += 1;
    } else if (frac < 0) {
        frac += 1e6;
        whole -= 1;
    }
    return static_cast<std::int64_t>(whole) * kMicros + static_cast<std::int64_t>(frac);
}

DateTime mtime_plus_age(const FileIdentity& id, bool use_tz, std::int64_t cookie_age) {
    return DateTime::now(python_mtime_micros(id), use_tz).plus_micros(cookie_age * kMicros);
}

std::int64_t floor_seconds(std::int64_t micros) {
    std::int64_t q = micros / kMicros;
    if (micros % kMicros != 0 && micros < 0) --q;
    return q;
}

std::optional<std::string> ascii_error(std::string_view content) {
    // Eight bytes at a time first: session files are ASCII.
    std::size_t i = 0;
    for (; i + 8 <= content.size(); i += 8) {
        std::uint64_t word;
        std::memcpy(&word, content.data() + i, 8);
        if (word & 0x8080808080808080ULL) break;
    }
    for (; i < content.size(); ++i) {
        auto byte = static_cast<unsigned char>(content[i]);
        if (byte >= 0x80)
            return fmt::format("'ascii' codec can't decode byte 0x{:02x} in position {}: ordinal not in range(128)",
                               byte, i);
    }
    return std::nullopt;
}

Verdict judge(const SessionEnvironment& env, std::string_view content, const std::optional<DateTime>& limit,
              const DateTime& now, PyDict* decoded) {
    if (content.empty()) return Verdict::placeholder;
    if (auto error = ascii_error(content)) throw NonAsciiContent(*error);
    // _session_expiry absent: mtime + age decides.
    if (!decoded && cannot_hold_expiry(content, env.codec->max_inflated_bytes())) {
        if (!limit) return Verdict::live;
        try {
            return floor_seconds(subtract_micros(*limit, now)) <= 0 ? Verdict::expired : Verdict::live;
        } catch (const DateTimeError& e) {
            throw ExpiryError(e.python_class(), e.what());
        }
    }
    PyDict data = SessionBase::session_dict_from(env.codec->decode(content));
    const PyValue* stored = data.find(SessionBase::EXPIRY_KEY);
    bool expired = false;
    if (stored && stored->truthy()) {
        // An int is returned unchanged as the age: never expires unless <= 0.
        expired = age_is_not_positive(expiry_age(stored, now, env.settings));
    } else if (limit) {
        try {
            expired = floor_seconds(subtract_micros(*limit, now)) <= 0;
        } catch (const DateTimeError& e) {
            throw ExpiryError(e.python_class(), e.what());
        }
    }
    if (decoded) *decoded = std::move(data);
    return expired ? Verdict::expired : Verdict::live;
}

StoredSession record_of(const SessionEnvironment& env, std::string key, std::string content,
                        const FileIdentity& identity) {
    StoredSession record{std::move(key), std::move(content), std::nullopt};
    if (record.data.empty() || ascii_error(record.data)) return record;
    const SessionSettings& settings = env.settings;
    if (cannot_hold_expiry(record.data, env.codec->max_inflated_bytes())) {
        record.expire_date = mtime_plus_age(identity, settings.use_tz, settings.cookie_age);
        return record;
    }
    PyDict data = SessionBase::session_dict_from(env.codec->decode(record.data));
    const PyValue* stored = data.find(SessionBase::EXPIRY_KEY);
    if (!stored || !stored->truthy()) {
        record.expire_date = mtime_plus_age(identity, settings.use_tz, settings.cookie_age);
    } else if (stored->is_str() && settings.series == DjangoSeries::current) {
        try {
            record.expire_date = parse_isoformat(stored->as_str());
        } catch (const DateTimeError&) {
            // load() raises ValueError: no date to show.
        }
    }
    return record;
}

bool record_is_expired(const SessionEnvironment& env, const StoredSession& record, const DateTime& now) {
    if (record.data.empty() || ascii_error(record.data)) return false;  // placeholder; load() raises
    if (record.expire_date) {
        // record_of() set it from a falsy _session_expiry (mtime + age) or an
        // ISO string one (parsed): judge() would compare the same date with
        // now, so the data need not be decoded again.
        try {
            return floor_seconds(subtract_micros(*record.expire_date, now)) <= 0;
        } catch (const DateTimeError&) {
            return false;  // TypeError in load(): clear_expired keeps the file
        }
    }
    try {
        return judge(env, record.data, record.expire_date, now) == Verdict::expired;
    } catch (const SessionError&) {
        return false;  // Django's load() raises; clear_expired keeps the file
    }
}

}  // namespace sessionctl::file_detail
