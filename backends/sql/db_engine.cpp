#include "backends/sql/db_engine.hpp"

#include "core/errors.hpp"
#include "core/time_zone.hpp"

namespace sessionctl {

DateTime db_datetime(const DateTime& value, bool use_tz) {
    if (!value.aware()) {
        if (use_tz) throw SessionError("a naive expiry date cannot be stored with USE_TZ=True");
        return value;
    }
    if (!use_tz) throw SessionError("SQLite backend does not support timezone-aware datetimes when USE_TZ is False.");
    return DateTime{value.utc_micros(), std::nullopt};
}

bool expired_on_wall_clock(const DateTime& expire_date, const DateTime& now, const TimeZone* zone) {
    if (!zone) return !(expire_date.wall_micros > now.wall_micros);
    return !(zone->wall_from_unix(expire_date.wall_micros) > zone->wall_from_unix(now.wall_micros));
}

namespace {

class DbSession final : public SessionBase {
public:
    DbSession(std::optional<std::string> key, std::shared_ptr<const SessionEnvironment> env, DbStore& store)
        : SessionBase(std::move(key), std::move(env)), store_(store) {}

    bool exists(std::string_view session_key) override { return store_.table().exists(session_key); }

    void create() override { (void)create_by_saving(); }

    void save(bool must_create) override {
        if (!session_key()) {
            create();
            return;
        }
        PyDict& data = must_create ? session_data_without_load() : session_data();
        StoredSession row{*session_key(), encode(data), db_datetime(get_expiry_date(), environment().settings.use_tz)};
        if (must_create) {
            if (!store_.table().insert(row)) throw CreateError();
        } else if (!store_.table().update(row)) {
            throw UpdateError();
        }
    }

    void delete_session(const std::optional<std::string>& key) override {
        std::optional<std::string> target = key ? key : session_key();
        if (!target) return;
        store_.table().erase(*target);
    }

    PyDict load() override {
        auto row = store_.table().select_live(*session_key(), db_datetime(now(), environment().settings.use_tz));
        if (!row) {
            set_session_key(std::nullopt);
            return {};
        }
        return session_dict_from(decode(row->data));
    }

    void clear_expired() override { store_.clear_expired(DryRun::no, false); }

private:
    DbStore& store_;
};

}  // namespace

DbStore::DbStore(std::shared_ptr<const SessionEnvironment> env, std::unique_ptr<SessionTable> table)
    : env_(std::move(env)), table_(std::move(table)) {}

std::unique_ptr<SessionBase> DbStore::open(std::optional<std::string> session_key) {
    return std::make_unique<DbSession>(std::move(session_key), env_, *this);
}

std::optional<StoredSession> DbStore::fetch(std::string_view key) { return table_->select(key); }

void DbStore::scan(const std::function<bool(const StoredSession&)>& visit) { table_->scan(visit); }

bool DbStore::is_expired(const StoredSession& record, const DateTime& now) const {
    if (!record.expire_date) return true;
    return table_->expired(*record.expire_date, db_datetime(now, env_->settings.use_tz));
}

BulkResult DbStore::clear_expired(DryRun dry_run, bool want_keys) {
    return clear_expired(dry_run, want_keys, BulkOptions{});
}

BulkResult DbStore::clear_expired(DryRun dry_run, bool want_keys, const BulkOptions& options) {
    return table_->delete_expired(db_datetime(env_->now(), env_->settings.use_tz), dry_run, want_keys, options);
}

BulkResult DbStore::remove(const std::vector<StoredSession>& records, bool want_keys) {
    return table_->delete_if_unchanged(records, want_keys);
}

std::vector<WriteOutcome> DbStore::write_sessions(const std::vector<SessionWrite>& batch, WriteMode mode) {
    const bool use_tz = env_->settings.use_tz;
    const std::int64_t now = env_->clock->now_micros();
    std::vector<WriteOutcome> outcomes(batch.size(), WriteOutcome::expired);
    std::vector<SessionTable::RowWrite> writes;
    std::vector<std::size_t> index_of;  // writes[i] is batch[index_of[i]]
    writes.reserve(batch.size());
    for (std::size_t i = 0; i < batch.size(); ++i) {
        const SessionWrite& w = batch[i];
        // Django's load() needs expire_date > now: a past one would be
        // written only to be cleared.
        if (w.expires_at_micros <= now) continue;
        SessionTable::RowWrite row;
        row.row.key = w.key;
        row.row.data =
            w.signed_data ? *w.signed_data : env_->codec->encode(PyValue(w.data), env_->clock->now_seconds());
        row.row.expire_date = db_datetime(DateTime::now(w.expires_at_micros, use_tz), use_tz);
        if (mode == WriteMode::replace_if_unchanged) row.expected_data = w.expected_data;
        writes.push_back(std::move(row));
        index_of.push_back(i);
    }
    if (writes.empty()) return outcomes;
    const std::vector<bool> written = table_->write_rows(writes);
    for (std::size_t i = 0; i < written.size(); ++i)
        outcomes[index_of[i]] = written[i]
                                    ? WriteOutcome::written
                                    : (mode == WriteMode::create ? WriteOutcome::key_taken : WriteOutcome::changed);
    return outcomes;
}

}  // namespace sessionctl
