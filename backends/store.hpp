#pragma once

// The storage half of a Django session engine: one object per configured
// store (it holds the connection and settings), creating SessionBase
// instances and offering the class-level operations Django has
// (clear_expired) plus what an administrator needs: streaming scans and
// conditional bulk removal.

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/datetime.hpp"
#include "core/session_base.hpp"

namespace sessionctl {

// One stored record, as the store holds it.
struct StoredSession {
    std::string key;
    std::string data;  // the encoded session_data, exactly as stored
    // When the store keeps an expiry (db: expire_date, read as Django reads it).
    std::optional<DateTime> expire_date;
};

enum class DryRun { no, yes };

struct BulkResult {
    std::uint64_t matched = 0;
    std::uint64_t removed = 0;
    std::vector<std::string> keys;  // filled when asked for (-v, --json)
};

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

    // Whether Django would consider the record expired at `now` (load() would
    // not return it).
    [[nodiscard]] virtual bool is_expired(const StoredSession& record, const DateTime& now) const = 0;

    // clear_expired(): what `manage.py clearsessions` removes. With DryRun::yes
    // nothing is removed and `matched` says what would be.
    virtual BulkResult clear_expired(DryRun dry_run, bool want_keys) = 0;

    // Removes exactly these records, each only if it still holds the data that
    // was read (a session a live request rewrote meanwhile is kept).
    virtual BulkResult remove(const std::vector<StoredSession>& records, bool want_keys) = 0;
};

}  // namespace sessionctl
