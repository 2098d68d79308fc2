#pragma once

// The storage half of a Django session engine: one object per configured
// store (it holds the connection and settings), creating SessionBase
// instances and offering the class-level operations Django has
// (clear_expired) plus what an administrator needs: streaming scans and
// conditional bulk removal.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/datetime.hpp"
#include "core/errors.hpp"
#include "core/session_base.hpp"
#include "util/ordered_pipeline.hpp"

namespace sessionctl {

// One stored record, as the store holds it.
struct StoredSession {
    std::string key;
    std::string data;  // the encoded session_data, exactly as stored
    // When the store keeps an expiry (db: expire_date, read as Django reads it).
    std::optional<DateTime> expire_date;
    // Cache engines: the memcached client flags of `data` (0 elsewhere).
    std::uint32_t flags = 0;
};

enum class DryRun { no, yes };

// How a bulk removal paces itself (clearsessions --batch-size, --sleep,
// --max-runtime) and how its caller watches it. Stores that cannot batch
// (a directory of files) honour what they can: should_stop and progress.
struct BulkOptions {
    // At most this many rows per write transaction; 0: sized by elapsed time, so that no batch
    // holds the write lock much longer than target_batch_time; kOneTransaction: all at once.
    std::size_t batch_size = 0;
    // A batch size no table reaches, yet one PostgreSQL's bigint LIMIT takes.
    static constexpr std::size_t kOneTransaction = std::size_t{1} << 62;
    // Unset: the store's own default (BulkDefaults), which fits how its locks work.
    std::optional<std::chrono::milliseconds> target_batch_time;
    // Pause between batches, with no lock held; unset: the store's default.
    std::optional<std::chrono::milliseconds> sleep;
    // Start no batch after this much time; zero: no limit.
    std::chrono::milliseconds max_runtime{0};
    // Polled between batches (Ctrl-C), and by SQLite during a batch's
    // statement: true stops before the next batch. The batch in flight
    // commits or rolls back whole (on SQLite it is rolled back unless it is
    // already committing).
    std::function<bool()> should_stop;
    // After each batch: rows removed so far, and the total expected when the
    // store can count it cheaply (0 when unknown).
    std::function<void(std::uint64_t done, std::uint64_t total)> progress;
};

// How a store paces a bulk removal when BulkOptions leave it open.
struct BulkDefaults {
    std::chrono::milliseconds target_batch_time;
    std::chrono::milliseconds sleep;
};

// Why a bulk removal ended.
enum class BulkEnd { complete, stopped, max_runtime };

struct BulkResult {
    std::uint64_t matched = 0;
    std::uint64_t removed = 0;
    std::vector<std::string> keys;    // filled when asked for (-v, --json)
    BulkEnd end = BulkEnd::complete;  // anything else: more may remain; a rerun continues
    std::uint64_t batches = 0;        // write transactions committed
    bool rolled_back = false;         // a stop rolled back the batch in flight
};

// A stored record and the session data to put in its place (rekey): same
// key, same expiry.
struct Rewrite {
    StoredSession record;     // as read: the write happens only if it still holds record.data
    std::string data;         // the new session data, in the store's own format (encode_record)
    std::uint32_t flags = 0;  // memcached client flags of `data`
};

// A session's data in the form a store keeps it (Store::encode_record).
struct EncodedRecord {
    std::string data;
    std::uint32_t flags = 0;
};

struct RewriteResult {
    std::uint64_t rewritten = 0;    // the others changed (or vanished) after they were read
    std::vector<std::string> keys;  // rewritten keys, when asked for
};

// Something a store has to tell the user, gathered while it worked.
struct StoreMessage {
    enum class Level {
        warning,  // a problem that did not stop the operation (printed unless -q)
        note,     // worth knowing, not worth a line on every cron run (printed with -v)
    };
    Level level = Level::warning;
    std::string text;
};

// Temporary files a dead writer left behind (the file engine's
// "<name>_out_<random>"): no session anyone can load, counted for a warning.
struct StaleLeftovers {
    std::uint64_t count = 0;
    std::uint64_t bytes = 0;
    std::string where;  // the directory
};

// One session for Store::write_sessions(): what Django needs to serve it
// from the store written to (sessionctl copy).
struct SessionWrite {
    std::string key;
    PyDict data;  // the session dict; the cache engines pickle it
    // Signed session_data this store's codec verifies (the source's bytes,
    // when the secret and salt allow) or made with it: stored as is by the
    // engines that keep signed data (db, file, cached_db's row); when unset
    // they encode `data` with their own secret and salt.
    std::optional<std::string> signed_data;
    // The moment Django stops serving it, in Unix microseconds: the db
    // engines' expire_date, a cache TTL in whole seconds (rounded down, never
    // longer), a file's mtime (expiry minus SESSION_COOKIE_AGE).
    std::int64_t expires_at_micros = 0;
    // WriteMode::replace_if_unchanged: the data this store held under `key`
    // when it was read (Store::fetch's record.data); replaced only while it
    // still holds exactly that.
    std::string expected_data;
};

enum class WriteMode {
    create,                // atomic create: a key already present is left as it is
    replace_if_unchanged,  // replace only a record that still holds expected_data
};

enum class WriteOutcome {
    written,
    key_taken,  // create: the key exists (expired or not); nothing written
    changed,    // replace: the record is gone or holds other data; nothing written
    expired,    // the expiry is past for this store (a cache TTL under a second)
};

// What a caller of Store::scan_examined() needs of each record: everything
// (Store::scan), or only the key and data (Store::scan_key_and_data).
enum class ScanScope { everything, key_and_data };
// Store::scan_examined()'s per-record work: ScanExamine runs on a worker
// thread (it may only read shared state) and returns the ScanStep the calling
// thread then runs with the same record, in scan order (false ends the scan).
using ScanStep = std::function<bool(const StoredSession&)>;
using ScanExamine = std::function<ScanStep(const StoredSession&)>;

class Store {
public:
    virtual ~Store() = default;

    // SESSION_ENGINE of this store, e.g. "django.contrib.sessions.backends.db".
    [[nodiscard]] virtual std::string_view engine() const = 0;
    [[nodiscard]] virtual const SessionEnvironment& environment() const = 0;

    // SessionStore(session_key): a session bound to this store.
    [[nodiscard]] virtual std::unique_ptr<SessionBase> open(std::optional<std::string> session_key) = 0;

    // The raw record of a key, expired or not; nullopt when there is none.
    [[nodiscard]] virtual std::optional<StoredSession> fetch(std::string_view key) = 0;

    // Streams every stored record (expired ones included) in a stable order;
    // `visit` returns false to stop early. Memory does not grow with the store.
    virtual void scan(const std::function<bool(const StoredSession&)>& visit) = 0;

    // scan() for callers that only match keys and data (delete --user/--where):
    // a record's expire_date may then be missing, which spares the cache
    // engine one TTL command per key.
    virtual void scan_key_and_data(const std::function<bool(const StoredSession&)>& visit) { scan(visit); }

    // scan() (scan_key_and_data() for ScanScope::key_and_data) with each
    // record's `examine` run on worker threads, up to `workers` of them, and
    // its step on the calling thread in scan order, `before` first (Ctrl-C,
    // progress; false ends the scan, as does a step's false). At most a
    // bounded number of records is in flight. What `examine` threw is rethrown
    // in its record's turn; what a step, `before` or the store threw ends the
    // scan and is rethrown once the workers have stopped. The default runs
    // the pipeline of util/ordered_pipeline.hpp over scan(); a store that
    // reads its records on worker threads anyway (the file engine) runs
    // `examine` on those, so that one pipeline runs, not two.
    virtual void scan_examined(ScanScope scope, std::size_t workers, const ScanExamine& examine,
                               const std::function<bool()>& before) {
        examine_in_order<StoredSession, ScanStep>(
            [&](const std::function<bool(const StoredSession&)>& visit) {
                if (scope == ScanScope::key_and_data) scan_key_and_data(visit);
                else scan(visit);
            },
            workers, examine, [](const StoredSession& record, ScanStep& step) { return step(record); }, before);
    }

    // Whether Django would consider the record expired at `now` (load() would
    // not return it).
    [[nodiscard]] virtual bool is_expired(const StoredSession& record, const DateTime& now) const = 0;

    // clear_expired(): what `manage.py clearsessions` removes. With DryRun::yes
    // nothing is removed and `matched` says what would be.
    virtual BulkResult clear_expired(DryRun dry_run, bool want_keys) = 0;
    // The same, paced by `options`; a stop leaves only whole batches done
    // (result.end says why). Stores that batch override it; this default
    // runs the sweep above as one batch.
    virtual BulkResult clear_expired(DryRun dry_run, bool want_keys, const BulkOptions& options) {
        BulkResult result;
        if (dry_run == DryRun::no && options.should_stop && options.should_stop()) {
            result.end = BulkEnd::stopped;
            return result;
        }
        result = clear_expired(dry_run, want_keys);
        if (dry_run == DryRun::no && options.progress) options.progress(result.removed, result.removed);
        return result;
    }

    // How inspect, delete and expire read a record: Django's signed
    // session_data by default. The cache engine keeps the pickled dict itself
    // and overrides this (format cache_pickle, verified without a signature).
    [[nodiscard]] virtual DecodeResult decode_record(const StoredSession& record) const {
        return environment().codec->decode(record.data);
    }
    // What save() would store for this session dict now: signed session_data
    // by default (SECRET_KEY, compressed as Django does); the cache engine's pickle.
    [[nodiscard]] virtual EncodedRecord encode_record(const PyValue& data) const {
        return {environment().codec->encode(data, environment().clock->now_micros() / 1'000'000), 0};
    }
    // Whether records are signed session_data under the session salt (what
    // the default decode_record reads); only those can be ruled out early by
    // the scan prefilter of inspect and delete.
    [[nodiscard]] virtual bool records_are_signed_session_data() const { return true; }

    // Removes exactly these records, each only if it still holds the data that
    // was read (a session a live request rewrote meanwhile is kept).
    virtual BulkResult remove(const std::vector<StoredSession>& records, bool want_keys) = 0;

    // Writes each session of `batch` (a few hundred at most) as `mode` says,
    // keeping its key, data and expiry; one outcome per session, in order.
    // Each write is atomic on its own (INSERT, O_EXCL/link, SET NX, add, a
    // compare-and-set); a batch may share a transaction or a pipeline. A
    // store that cannot be written this way (signed_cookies, and this
    // default) throws StoreError.
    virtual std::vector<WriteOutcome> write_sessions(const std::vector<SessionWrite>& /*batch*/, WriteMode /*mode*/) {
        throw StoreError(std::string(engine()) + " cannot receive copied sessions");
    }
    // Whether rewrite_unchanged() works on this store.
    [[nodiscard]] virtual bool can_rewrite() const { return false; }
    // Replaces each record's data, only if it still holds the data that was
    // read (a session a live request rewrote meanwhile is left alone), and
    // keeps its key and expiry (the file engine: the file's mtime). Stores
    // that cannot throw StoreError (can_rewrite() says so beforehand).
    virtual RewriteResult rewrite_unchanged(const std::vector<Rewrite>& rewrites, bool want_keys);

    // The messages gathered since the last call, oldest first (each is
    // handed out once).
    [[nodiscard]] virtual std::vector<StoreMessage> take_messages() { return {}; }

    // Sessions Django serves from outside this store's main listing, as a
    // store of their own (scan, fetch, decode_record and remove work on it):
    // cached_db's cached copies, which Django's load() reads before the table,
    // so a copy whose row is gone is still a live session. nullptr for every
    // engine whose listing is complete.
    [[nodiscard]] virtual Store* shadow_records() { return nullptr; }
    // With shadow_records(): whether the main listing holds `key` (expired or
    // not), i.e. whether a shadow record of that key stands over a main one.
    [[nodiscard]] virtual bool has_main_record(std::string_view key) { return fetch(key).has_value(); }
    // The words for shadow records in messages to the user.
    struct ShadowTerms {
        std::string_view place;        // "only in the cache"
        std::string_view reason;       // why such a record is still a session
        std::string_view record;       // "cached copy"
        std::string_view records;      // "cached copies"
        std::string_view main_record;  // "database row"
    };
    [[nodiscard]] virtual ShadowTerms shadow_terms() const { return {}; }

    // The record Django's load() would read for `key`: the main one, else a
    // shadow one; `holder` is the store that decodes and removes it.
    struct Located {
        StoredSession record;
        Store* holder = nullptr;
        bool in_shadow = false;
    };
    [[nodiscard]] std::optional<Located> locate(std::string_view key) {
        if (auto record = fetch(key)) return Located{std::move(*record), this, false};
        if (Store* shadow = shadow_records())
            if (auto record = shadow->fetch(key)) return Located{std::move(*record), shadow, true};
        return std::nullopt;
    }

    // Stale temporary files (older than a day) a dead writer left: nullopt
    // when the engine has no such thing (has_leftovers() says so without
    // looking). remove_stale_leftovers() removes them, each only if
    // unchanged since listed (`keys` gets file names).
    [[nodiscard]] virtual bool has_leftovers() const { return false; }
    [[nodiscard]] virtual std::optional<StaleLeftovers> stale_leftovers() { return std::nullopt; }
    [[nodiscard]] virtual std::optional<BulkResult> remove_stale_leftovers(DryRun, bool /*want_keys*/) {
        return std::nullopt;
    }
};

inline RewriteResult Store::rewrite_unchanged(const std::vector<Rewrite>&, bool) {
    throw StoreError(std::string(engine()) + " cannot rewrite sessions in place");
}

}  // namespace sessionctl
