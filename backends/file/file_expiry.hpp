#pragma once

// The file engine's expiry decision (internal to backends/file/): what
// Django's FileStore.load() concludes from a file's content and mtime
// (docs/django-sessions.md §7). The file's mtime is the only expiry the store
// keeps; _session_expiry in the data overrides it.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "backends/file/file_engine.hpp"
#include "core/datetime.hpp"
#include "core/errors.hpp"
#include "core/pyvalue.hpp"
#include "core/session_base.hpp"

namespace sessionctl::file_detail {

inline constexpr std::int64_t kMicros = 1'000'000;

// datetime.fromtimestamp(os.stat(path).st_mtime) in microseconds.
[[nodiscard]] std::int64_t python_mtime_micros(const FileIdentity& id);

// _last_modification() + timedelta(seconds=get_session_cookie_age()).
[[nodiscard]] DateTime mtime_plus_age(const FileIdentity& id, bool use_tz, std::int64_t cookie_age);

// Whole seconds of a span, rounded down (timedelta.total_seconds() floored).
[[nodiscard]] std::int64_t floor_seconds(std::int64_t micros);

// Python's UnicodeDecodeError from open(path, encoding="ascii").read().
class NonAsciiContent : public StoreError {
public:
    using StoreError::StoreError;
};

// Python's message for the first byte that is not ASCII; nullopt when all are.
[[nodiscard]] std::optional<std::string> ascii_error(std::string_view content);

enum class Verdict { placeholder, live, expired };

// The decision FileStore.load() makes about a file's content
// (docs/django-sessions.md §7): empty -> placeholder, no expiry check;
// otherwise decode ({} when it does not verify) and expiry = _session_expiry
// or (mtime + age), expired when get_expiry_age(expiry=expiry) <= 0. Throws
// what load() would raise: NonAsciiContent (UnicodeDecodeError) and
// ExpiryError (TypeError/ValueError). `limit` is mtime + age; when unknown,
// only _session_expiry can expire it. `decoded` gets the session's data.
[[nodiscard]] Verdict judge(const SessionEnvironment& env, std::string_view content,
                            const std::optional<DateTime>& limit, const DateTime& now, PyDict* decoded = nullptr);

// The record fetch() and scan() hand out for a file: its content, and as
// expire_date the expiry Django's load() would compute (see
// FileStore::fetch()).
[[nodiscard]] StoredSession record_of(const SessionEnvironment& env, std::string key, std::string content,
                                      const FileIdentity& identity);

// FileStore::is_expired(): judge() at `now`, from the record's expire_date
// when it has one; false where load() would raise.
[[nodiscard]] bool record_is_expired(const SessionEnvironment& env, const StoredSession& record, const DateTime& now);

}  // namespace sessionctl::file_detail
