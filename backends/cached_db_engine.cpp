#include "backends/cached_db_engine.hpp"

#include <fmt/format.h>

#include "backends/cache/cache_engine.hpp"
#include "backends/sql/session_table.hpp"
#include "core/errors.hpp"

namespace sessionctl {
namespace {

class CachedDbSession final : public SessionBase {
public:
    CachedDbSession(std::optional<std::string> key, std::shared_ptr<const SessionEnvironment> env, CachedDbStore& store)
        : SessionBase(std::move(key), std::move(env)), store_(store) {}

    bool exists(std::string_view session_key) override {
        return store_.client().get(store_.cache_key(session_key)).has_value() ||
               store_.db().table().exists(session_key);
    }

    void create() override { (void)create_by_saving(); }

    // The db engine's save, then cache.set(key, dict, get_expiry_age()).
    void save(bool must_create) override {
        if (!session_key()) {
            create();
            return;
        }
        const bool use_tz = environment().settings.use_tz;
        PyDict data = must_create ? session_data_without_load() : session_data();
        StoredSession row{*session_key(), encode(data), db_datetime(get_expiry_date(), use_tz)};
        if (must_create) {
            if (!store_.db().table().insert(row)) throw CreateError();
        } else if (!store_.db().table().update(row)) {
            throw UpdateError();
        }
        // Django >= 5.1 logs a cache failure and carries on; an administrator's
        // change must not leave a stale cached copy unnoticed, so it is reported.
        EncodedCacheValue value = encode_cache_value(store_.cache().codec, PyValue(std::move(data)));
        try {
            store_.client().set(store_.cache_key(*session_key()), value.bytes, value.flags,
                                cache_timeout_seconds(get_expiry_age()));
        } catch (const StoreUnavailable& e) {
            throw StoreUnavailable(
                fmt::format("the session was saved to the database, but the cache could not "
                            "be updated (Django may serve the old copy until it expires): {}",
                            e.what()));
        }
    }

    // Cache entry, row, cache entry again: a request that refilled the cache
    // from the row between the first two steps cannot resurrect the session.
    void delete_session(const std::optional<std::string>& key) override {
        std::optional<std::string> target = key ? key : session_key();
        if (!target) return;
        std::string cache_key = store_.cache_key(*target);
        store_.client().remove(cache_key);
        store_.db().table().erase(*target);
        store_.client().remove(cache_key);
    }

    PyDict load() override {
        std::string cache_key = store_.cache_key(*session_key());
        if (auto cached = store_.client().get(cache_key)) {
            StoredSession record{*session_key(), std::move(cached->bytes), std::nullopt, cached->flags};
            DecodeResult decoded = decode_cache_record(store_.cache().codec, record);
            if (decoded.ok() && decoded.data.is_dict()) return decoded.data.as_dict();
        }
        const bool use_tz = environment().settings.use_tz;
        DateTime now_db = db_datetime(now(), use_tz);
        auto row = store_.db().table().select_live(*session_key(), now_db);
        if (!row) {
            set_session_key(std::nullopt);
            return {};
        }
        PyDict data = session_dict_from(decode(row->data));
        // Refill as Django does: timeout = get_expiry_age(expiry=expire_date),
        // the floor of the seconds left (both naive in the db's zone).
        std::int64_t left = row->expire_date->wall_micros - now_db.wall_micros;
        std::int64_t age = left >= 0 ? left / 1'000'000 : -((-left + 999'999) / 1'000'000);
        EncodedCacheValue value = encode_cache_value(store_.cache().codec, PyValue(data));
        store_.client().set(cache_key, value.bytes, value.flags, age);
        return data;
    }

    void clear_expired() override { store_.clear_expired(DryRun::no, false); }

private:
    CachedDbStore& store_;
};

}  // namespace

CachedDbStore::CachedDbStore(std::shared_ptr<const SessionEnvironment> env, std::unique_ptr<DbStore> db,
                             CacheTarget cache)
    : env_(std::move(env)), db_(std::move(db)), cache_(std::move(cache)), copies_(env_, cache_, kCachedDbKeyPrefix) {}

std::unique_ptr<SessionBase> CachedDbStore::open(std::optional<std::string> session_key) {
    return std::make_unique<CachedDbSession>(std::move(session_key), env_, *this);
}

BulkResult CachedDbStore::remove(const std::vector<StoredSession>& records, bool want_keys) {
    // Cache entries first and again afterwards (see delete_session). A cache
    // entry of a row that changed meanwhile is dropped too: harmless, Django
    // refills it from the row.
    std::vector<std::string> keys;
    keys.reserve(records.size());
    for (const auto& r : records) keys.push_back(cache_key(r.key));
    (void)cache_.client->remove_many(keys);
    BulkResult result = db_->remove(records, want_keys);
    (void)cache_.client->remove_many(keys);
    return result;
}

std::vector<WriteOutcome> CachedDbStore::write_sessions(const std::vector<SessionWrite>& batch, WriteMode mode) {
    std::vector<WriteOutcome> outcomes = db_->write_sessions(batch, mode);
    const std::int64_t now = env_->clock->now_micros();
    try {
        for (std::size_t i = 0; i < batch.size(); ++i) {
            if (outcomes[i] != WriteOutcome::written) continue;
            const std::int64_t ttl = (batch[i].expires_at_micros - now) / 1'000'000;
            if (ttl <= 0) continue;  // Django would serve the row, if still live, and refill
            EncodedCacheValue value = encode_cache_value(cache_.codec, PyValue(batch[i].data));
            cache_.client->set(cache_key(batch[i].key), value.bytes, value.flags, ttl);
        }
    } catch (const StoreUnavailable& e) {
        throw StoreUnavailable(
            fmt::format("sessions were written to the database, but the cache could not be updated (Django "
                        "reads the rows instead, unless the cache holds older copies): {}",
                        e.what()));
    }
    return outcomes;
}

std::vector<StoreMessage> CachedDbStore::take_messages() {
    std::vector<StoreMessage> messages = db_->take_messages();
    // The copies' own note speaks of "the sessions found"; here the rows are
    // the sessions, exactly listed, and only row-less copies may be missed.
    if (copies_.take_listing_note() && !copies_.listing_is_exact())
        messages.push_back({StoreMessage::Level::warning,
                            fmt::format("{} cannot list its keys: cached copies whose database row is gone were "
                                        "looked for in a best-effort listing and may have been missed",
                                        cache_.client->description())});
    return messages;
}

RewriteResult CachedDbStore::rewrite_unchanged(const std::vector<Rewrite>& rewrites, bool want_keys) {
    RewriteResult result = db_->rewrite_unchanged(rewrites, /*want_keys=*/true);
    std::vector<std::string> copies;
    copies.reserve(result.keys.size());
    for (const auto& key : result.keys) copies.push_back(cache_key(key));
    if (!copies.empty()) (void)cache_.client->remove_many(copies);
    if (!want_keys) result.keys.clear();
    return result;
}

}  // namespace sessionctl
