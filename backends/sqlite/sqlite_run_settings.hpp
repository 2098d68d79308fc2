#pragma once

// Connection settings that sessionctl's own SQLite connection takes for the
// length of one bulk run (or one statement) and gives back after it. Each is
// per connection: the site's connections never see them.

#include <cstdint>
#include <functional>
#include <string>

struct sqlite3;

namespace sessionctl {

// A page cache of `kib` KiB (PRAGMA cache_size) unless already as large. The
// cache only grows as pages are touched, so this is a ceiling.
class PageCacheScope {
public:
    PageCacheScope(sqlite3* db, std::int64_t kib);
    ~PageCacheScope();
    PageCacheScope(const PageCacheScope&) = delete;
    PageCacheScope& operator=(const PageCacheScope&) = delete;

private:
    void set(std::int64_t value);
    sqlite3* db_;
    // Not std::optional: GCC 12 warns (falsely) that it may be used uninitialized.
    std::int64_t previous_ = 0;
    bool have_previous_ = false;
    bool changed_ = false;
};

// For a run of many short write transactions on a rollback-journal database
// (Django's default, journal_mode=delete): journal_mode=persist keeps the
// journal file between commits, its header zeroed (which every connection
// reads as "nothing to roll back"), instead of creating and deleting it at
// each commit: about a fifth of a 1M-row clearsessions in 100 ms batches.
// The site's connections stay in delete mode and may delete the file between
// our transactions: SQLite closes a persist-mode journal whenever the
// connection drops its lock, for exactly that case. The end restores delete
// mode, which deletes the file. WAL and any other mode are left alone.
class PersistJournalScope {
public:
    explicit PersistJournalScope(sqlite3* db);
    ~PersistJournalScope();
    PersistJournalScope(const PersistJournalScope&) = delete;
    PersistJournalScope& operator=(const PersistJournalScope&) = delete;

private:
    sqlite3* db_;
    bool active_ = false;
};

// While it lives, a statement of the connection stops with SQLITE_INTERRUPT
// (which rolls back the transaction it runs in) soon after `should_stop`
// returns true, instead of running to its end: a Ctrl-C during a batch of
// minutes (--one-transaction on a large table) then takes effect at once.
// An empty `should_stop` installs nothing.
class StopOnRequestScope {
public:
    StopOnRequestScope(sqlite3* db, const std::function<bool()>& should_stop);
    ~StopOnRequestScope();
    StopOnRequestScope(const StopOnRequestScope&) = delete;
    StopOnRequestScope& operator=(const StopOnRequestScope&) = delete;

private:
    sqlite3* db_;
    const std::function<bool()>& should_stop_;
};

// The connection's journal mode for the main database, lower case ("" if unreadable).
std::string journal_mode(sqlite3* db);

}  // namespace sessionctl
