#include "backends/sqlite/sqlite_run_settings.hpp"

#include <sqlite3.h>

#include <string>

#include <fmt/format.h>

namespace sessionctl {

namespace {

// The first column of the single row `sql` returns, as text ("" if none).
std::string pragma_text(sqlite3* db, const char* sql) {
    sqlite3_stmt* raw = nullptr;
    std::string value;
    if (sqlite3_prepare_v2(db, sql, -1, &raw, nullptr) == SQLITE_OK && sqlite3_step(raw) == SQLITE_ROW) {
        if (const unsigned char* text = sqlite3_column_text(raw, 0)) value = reinterpret_cast<const char*>(text);
    }
    sqlite3_finalize(raw);
    return value;
}

}  // namespace

PageCacheScope::PageCacheScope(sqlite3* db, std::int64_t kib) : db_(db) {
    const std::string previous = pragma_text(db, "PRAGMA cache_size");
    have_previous_ = !previous.empty();
    if (have_previous_) previous_ = std::stoll(previous);
    if (have_previous_ && previous_ < 0 && -previous_ >= kib) return;  // already as large
    set(-kib);
}

PageCacheScope::~PageCacheScope() {
    if (have_previous_ && changed_) set(previous_);
}

void PageCacheScope::set(std::int64_t value) {
    const std::string sql = fmt::format("PRAGMA cache_size = {}", value);
    changed_ = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, nullptr) == SQLITE_OK;
}

std::string journal_mode(sqlite3* db) { return pragma_text(db, "PRAGMA main.journal_mode"); }

PersistJournalScope::PersistJournalScope(sqlite3* db) : db_(db) {
    if (journal_mode(db) != "delete") return;
    active_ = pragma_text(db, "PRAGMA main.journal_mode = PERSIST") == "persist";
}

PersistJournalScope::~PersistJournalScope() {
    // Should this fail (the database busy past the timeout), the zeroed
    // journal left behind is harmless: the next commit by any delete-mode
    // connection removes it.
    if (active_) (void)pragma_text(db_, "PRAGMA main.journal_mode = DELETE");
}

StopOnRequestScope::StopOnRequestScope(sqlite3* db, const std::function<bool()>& should_stop)
    : db_(db), should_stop_(should_stop) {
    if (!should_stop_) return;
    // Every few thousand virtual machine steps: microseconds apart, and the
    // check is a load of a flag.
    constexpr int kSteps = 4096;
    sqlite3_progress_handler(
        db_, kSteps, [](void* stop) -> int { return (*static_cast<const std::function<bool()>*>(stop))() ? 1 : 0; },
        const_cast<std::function<bool()>*>(&should_stop_));
}

StopOnRequestScope::~StopOnRequestScope() {
    if (should_stop_) sqlite3_progress_handler(db_, 0, nullptr, nullptr);
}

}  // namespace sessionctl
