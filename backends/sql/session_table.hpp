#pragma once

// The django_session table, whatever holds it: the SQL Django's db engine
// runs, one method per statement, so the engine logic above it (create loop,
// forced update, expiry rules) is written once and tested on every table.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "backends/store.hpp"
#include "core/errors.hpp"

namespace sessionctl {

class TimeZone;

class SessionTable {
public:
    virtual ~SessionTable() = default;

    // INSERT; false when the key is taken (IntegrityError -> CreateError).
    [[nodiscard]] virtual bool insert(const StoredSession& row) = 0;
    // UPDATE ... WHERE session_key = ?; false when no row matched.
    [[nodiscard]] virtual bool update(const StoredSession& row) = 0;
    // SELECT ... WHERE expire_date > now AND session_key = ?
    [[nodiscard]] virtual std::optional<StoredSession> select_live(std::string_view key, const DateTime& now) = 0;
    // SELECT ... WHERE session_key = ? (expired or not)
    [[nodiscard]] virtual std::optional<StoredSession> select(std::string_view key) = 0;
    // SELECT 1 ... WHERE session_key = ? LIMIT 1 (ignores expiry)
    [[nodiscard]] virtual bool exists(std::string_view key) = 0;
    // DELETE ... WHERE session_key = ?
    virtual void erase(std::string_view key) = 0;
    // DELETE ... WHERE expire_date < now (strict); with DryRun::yes only counts.
    // SQL tables delete in batches paced by `options` (backends/bulk_pacer.hpp),
    // each its own short transaction and each a conditional delete (the expiry
    // condition repeated); a stop leaves whole batches done (result.end).
    virtual BulkResult delete_expired(const DateTime& now, DryRun dry_run, bool want_keys,
                                      const BulkOptions& options = {}) = 0;
    // DELETE ... WHERE session_key = ? AND session_data = ? for each row.
    virtual BulkResult delete_if_unchanged(const std::vector<StoredSession>& rows, bool want_keys) = 0;
    // Store::write_sessions() on a table, in one transaction per call: each
    // row inserted only if its key is absent (INSERT ... ON CONFLICT DO
    // NOTHING, or a failed INSERT that does not end the transaction), or with
    // `expected_data` (replace) updated only while it still holds exactly that
    // (UPDATE ... WHERE session_key = ? AND session_data = ?). Returns whether
    // each row was written, in order. Rows must have an expire_date.
    struct RowWrite {
        StoredSession row;
        std::optional<std::string> expected_data;  // set: replace if unchanged
    };
    [[nodiscard]] virtual std::vector<bool> write_rows(const std::vector<RowWrite>& writes) = 0;
    // UPDATE ... SET session_data = new WHERE session_key = ? AND
    // session_data = old for each rewrite, in short transactions; expire_date
    // is not touched.
    virtual RewriteResult update_if_unchanged(const std::vector<Rewrite>& rewrites, bool want_keys) = 0;
    // Every row in key order; visit returns false to stop.
    virtual void scan(const std::function<bool(const StoredSession&)>& visit) = 0;
    // Django's `expire_date > now` is false for a row this table returned
    // (now: db_datetime of timezone.now()), compared as the database compares
    // them: on the wall clock of DATABASES TIME_ZONE when the table stores
    // that (MySQL, SQLite), where the repeated hour after a change back
    // orders differently from UTC.
    [[nodiscard]] virtual bool expired(const DateTime& expire_date, const DateTime& now) const {
        return !(expire_date.wall_micros > now.wall_micros);
    }
    // Store::take_messages() of the db engine: what the table has to say
    // (a custom session model's extra columns, foreign keys), once.
    [[nodiscard]] virtual std::vector<StoreMessage> take_messages() { return {}; }
};

// The naive datetime Django binds for expire_date: UTC when USE_TZ (the
// connection time zone), the local wall clock otherwise.
[[nodiscard]] DateTime db_datetime(const DateTime& value, bool use_tz);

// SessionTable::expired for a table whose expire_date is `zone`'s wall clock
// (naive UTC values in and out; null zone: UTC).
[[nodiscard]] bool expired_on_wall_clock(const DateTime& expire_date, const DateTime& now, const TimeZone* zone);

}  // namespace sessionctl
