#include "backends/cache/cache_engine.hpp"

#include <cmath>
#include <limits>

#include <fmt/format.h>

#include "backends/cache/msgpack_codec.hpp"
#include "core/errors.hpp"
#include "core/json_codec.hpp"
#include "core/pickle_codec.hpp"
#include "core/zlib_codec.hpp"

namespace sessionctl {

std::int64_t cache_timeout_seconds(const PyValue& age) {
    if (age.is_bool()) return age.as_bool() ? 1 : 0;
    if (age.is_int()) return age.as_int();
    if (age.is_float()) {
        double d = std::trunc(age.as_float());
        if (std::isnan(d)) throw SessionError("session expiry age is NaN; no cache timeout can be derived");
        if (d >= 9.2e18) return std::numeric_limits<std::int64_t>::max();
        if (d <= -9.2e18) return std::numeric_limits<std::int64_t>::min();
        return static_cast<std::int64_t>(d);
    }
    if (age.is_bigint())
        return age.as_bigint().decimal.starts_with("-") ? std::numeric_limits<std::int64_t>::min()
                                                        : std::numeric_limits<std::int64_t>::max();
    throw SessionError("session expiry age is not a number; no cache timeout can be derived");
}

DecodeResult decode_cache_record(const CacheValueCodec& codec, const StoredSession& record) {
    DecodeResult r;
    r.format = codec.family == CacheFamily::memcached || codec.serializer == CacheSerializer::pickle
                   ? PayloadFormat::cache_pickle
               : codec.serializer == CacheSerializer::json ? PayloadFormat::cache_json
                                                           : PayloadFormat::cache_msgpack;
    const char* serializer_part = r.format_name();
    try {
        DecodedCacheValue decoded = decode_cache_value_ex(codec, record.data, record.flags);
        r.data = std::move(decoded.value);
        r.status = DecodeStatus::ok;
        r.verified = true;  // nothing to verify: the cache holds the dict itself
        r.compressed = decoded.compressed;
    } catch (const PickleError& e) {
        r.status = DecodeStatus::malformed;
        r.malformed_part = serializer_part;
        r.error = e.what();
    } catch (const JsonDecodeError& e) {
        r.status = DecodeStatus::malformed;
        r.malformed_part = serializer_part;
        r.error = e.what();
    } catch (const MsgpackError& e) {
        r.status = DecodeStatus::malformed;
        r.malformed_part = serializer_part;
        r.error = e.what();
    } catch (const ZlibError& e) {
        r.status = DecodeStatus::malformed;
        r.malformed_part = "zlib";
        r.error = e.what();
    } catch (const DecompressedTooLarge& e) {
        r.status = DecodeStatus::malformed;
        r.malformed_part = compressor_name(codec.compressor);
        r.error = e.what();
    } catch (const StoreCorrupt& e) {
        r.status = DecodeStatus::malformed;
        r.malformed_part = "flags";
        r.error = e.what();
    }
    return r;
}

namespace {

class CacheSession final : public SessionBase {
public:
    CacheSession(std::optional<std::string> key, std::shared_ptr<const SessionEnvironment> env, CacheStore& store)
        : SessionBase(std::move(key), std::move(env)), store_(store) {}

    bool exists(std::string_view session_key) override {
        return store_.client().get(store_.cache_key(session_key)).has_value();
    }

    void create() override {
        // Django: 10 000 attempts, then RuntimeError (the cache is probably down).
        if (!create_by_saving(10000))
            throw StoreError("unable to create a new session key: the cache is probably unavailable");
    }

    void save(bool must_create) override {
        if (!session_key()) {
            create();
            return;
        }
        std::string key = store_.cache_key(*session_key());
        if (!must_create && !store_.client().get(key)) throw UpdateError();
        const PyDict& data = must_create ? session_data_without_load() : session_data();
        EncodedCacheValue value = encode_cache_value(store_.target().codec, PyValue(data));
        std::int64_t timeout = cache_timeout_seconds(get_expiry_age());
        if (must_create) {
            if (!store_.client().add(key, value.bytes, value.flags, timeout)) throw CreateError();
        } else {
            store_.client().set(key, value.bytes, value.flags, timeout);
        }
    }

    void delete_session(const std::optional<std::string>& key) override {
        std::optional<std::string> target = key ? key : session_key();
        if (!target) return;
        store_.client().remove(store_.cache_key(*target));
    }

    PyDict load() override {
        // Django swallows any cache exception here ({}); an unreachable server is
        // reported instead, as an administrator must not mistake it for "no session".
        auto value = store_.client().get(store_.cache_key(*session_key()));
        if (value) {
            StoredSession record{*session_key(), std::move(value->bytes), std::nullopt, value->flags};
            DecodeResult decoded = decode_cache_record(store_.target().codec, record);
            if (decoded.ok() && decoded.data.is_dict()) return decoded.data.as_dict();
        }
        set_session_key(std::nullopt);
        return {};
    }

    void clear_expired() override {}

private:
    CacheStore& store_;
};

constexpr std::size_t kRemoveBatch = 500;

}  // namespace

CacheStore::CacheStore(std::shared_ptr<const SessionEnvironment> env, CacheTarget target,
                       std::string_view session_prefix)
    : env_(std::move(env)), target_(std::move(target)), session_prefix_(session_prefix) {}

std::unique_ptr<SessionBase> CacheStore::open(std::optional<std::string> session_key) {
    return std::make_unique<CacheSession>(std::move(session_key), env_, *this);
}

namespace {

// A cache entry as a record, its TTL turned into an expiry from `now_micros`
// (taken right when the client handed the entry over: its TTL is what was
// left then, so the expiry is never later than the server's).
StoredSession cache_record_at(const SessionEnvironment& env, std::string key, CacheValue value,
                              std::int64_t now_micros) {
    StoredSession record{std::move(key), std::move(value.bytes), std::nullopt, value.flags};
    if (value.ttl_seconds || value.ttl_millis) {
        const std::int64_t left = value.ttl_millis ? *value.ttl_millis * 1'000 : *value.ttl_seconds * 1'000'000;
        record.expire_date = DateTime::now(now_micros + left, env.settings.use_tz);
    }
    return record;
}

}  // namespace

StoredSession CacheStore::record_of(std::string key, CacheValue value) const {
    return cache_record_at(*env_, std::move(key), std::move(value), env_->clock->now_micros());
}

std::optional<StoredSession> CacheStore::fetch(std::string_view key) {
    auto value = target_.client->get(cache_key(key));
    if (!value) return std::nullopt;
    return record_of(std::string(key), std::move(*value));
}

std::optional<std::string> CacheStore::take_listing_note() {
    std::optional<std::string> note = std::move(note_);
    note_.reset();
    return note;
}

std::vector<StoreMessage> CacheStore::take_messages() {
    std::vector<StoreMessage> messages;
    if (auto note = take_listing_note()) messages.push_back({StoreMessage::Level::warning, std::move(*note)});
    return messages;
}

void CacheStore::scan(const std::function<bool(const StoredSession&)>& visit) {
    scan_entries(visit, CacheClient::Ttl::wanted);
}

void CacheStore::scan_key_and_data(const std::function<bool(const StoredSession&)>& visit) {
    scan_entries(visit, CacheClient::Ttl::not_needed);
}

void CacheStore::scan_entries(const std::function<bool(const StoredSession&)>& visit, CacheClient::Ttl ttl) {
    if (!target_.client->listing_is_exact())
        note_ = fmt::format(
            "{} cannot list its keys: the sessions found come from a best-effort listing "
            "and may be incomplete",
            target_.client->description());
    std::string prefix = cache_key("");
    target_.client->scan_prefix(
        prefix,
        [&](std::vector<CacheEntry>& batch) {
            // One `now` for the batch, taken as the client hands it over: a
            // visit that waits (a full pipeline) must not make later TTLs
            // look longer than they were.
            const std::int64_t now = env_->clock->now_micros();
            for (auto& entry : batch) {
                // Moved, not copied: a scan of 100k sessions should not copy every value twice.
                if (!visit(cache_record_at(*env_, entry.key.substr(prefix.size()), std::move(entry.value), now)))
                    return false;
            }
            return true;
        },
        ttl);
}

bool CacheStore::is_expired(const StoredSession&, const DateTime&) const { return false; }

BulkResult CacheStore::clear_expired(DryRun, bool) {
    note_ =
        "the cache engine has nothing to clear: the cache server drops expired sessions itself (Django's "
        "clearsessions does nothing here either)";
    return {};
}

BulkResult CacheStore::remove(const std::vector<StoredSession>& records, bool want_keys) {
    BulkResult result;
    result.matched = records.size();
    std::vector<std::pair<std::string, std::string>> batch;
    for (std::size_t start = 0; start < records.size(); start += kRemoveBatch) {
        std::size_t end = std::min(records.size(), start + kRemoveBatch);
        batch.clear();
        for (std::size_t i = start; i < end; ++i) batch.emplace_back(cache_key(records[i].key), records[i].data);
        std::vector<bool> removed;
        try {
            removed = target_.client->remove_many_if_unchanged(batch);
        } catch (const StoreUnavailable& e) {
            throw StoreUnavailable(
                fmt::format("{} ({} of {} sessions were deleted before that; a rerun finishes "
                            "the job)",
                            e.what(), result.removed, records.size()));
        }
        for (std::size_t i = 0; i < removed.size(); ++i) {
            if (!removed[i]) continue;
            ++result.removed;
            if (want_keys) result.keys.push_back(records[start + i].key);
        }
    }
    return result;
}

std::vector<WriteOutcome> CacheStore::write_sessions(const std::vector<SessionWrite>& batch, WriteMode mode) {
    const std::int64_t now = env_->clock->now_micros();
    std::vector<WriteOutcome> outcomes(batch.size(), WriteOutcome::expired);
    std::vector<CacheClient::Write> writes;
    std::vector<std::size_t> index_of;  // writes[i] is batch[index_of[i]]
    writes.reserve(batch.size());
    for (std::size_t i = 0; i < batch.size(); ++i) {
        const SessionWrite& w = batch[i];
        if (w.expires_at_micros <= now) continue;
        const std::int64_t ttl = (w.expires_at_micros - now) / 1'000'000;
        if (ttl <= 0) continue;  // a timeout of 0 would store nothing
        EncodedCacheValue value = encode_cache_value(target_.codec, PyValue(w.data));
        writes.push_back({cache_key(w.key), std::move(value.bytes), value.flags, ttl});
        index_of.push_back(i);
    }
    if (mode == WriteMode::create) {
        const std::vector<bool> stored = target_.client->add_many(writes);
        for (std::size_t i = 0; i < stored.size(); ++i)
            outcomes[index_of[i]] = stored[i] ? WriteOutcome::written : WriteOutcome::key_taken;
        return outcomes;
    }
    for (std::size_t i = 0; i < writes.size(); ++i)
        outcomes[index_of[i]] = target_.client->replace_if_unchanged(writes[i], batch[index_of[i]].expected_data)
                                    ? WriteOutcome::written
                                    : WriteOutcome::changed;
    return outcomes;
}

DecodeResult CacheStore::decode_record(const StoredSession& record) const {
    return decode_cache_record(target_.codec, record);
}

EncodedRecord CacheStore::encode_record(const PyValue& data) const {
    EncodedCacheValue value = encode_cache_value(target_.codec, data);
    return {std::move(value.bytes), value.flags};
}

RewriteResult CacheStore::rewrite_unchanged(const std::vector<Rewrite>& rewrites, bool want_keys) {
    RewriteResult result;
    const std::int64_t now = env_->clock->now_micros();
    for (const auto& r : rewrites) {
        std::optional<std::int64_t> ttl;
        if (r.record.expire_date) {
            const std::int64_t at = r.record.expire_date->aware() ? r.record.expire_date->utc_micros()
                                                                  : r.record.expire_date->to_unix_micros();
            ttl = std::max<std::int64_t>(1, (at - now + 999'999) / 1'000'000);
        }
        if (!target_.client->replace_keeping_expiry_if_unchanged(cache_key(r.record.key), r.record.data, r.data,
                                                                 r.flags, ttl))
            continue;
        ++result.rewritten;
        if (want_keys) result.keys.push_back(r.record.key);
    }
    return result;
}

}  // namespace sessionctl
