#pragma once

// django.contrib.sessions.backends.file: one file per session in
// SESSION_FILE_PATH, named SESSION_COOKIE_NAME + key, holding exactly the
// encoded session (ASCII, no newline). The file's mtime is the only expiry
// the store keeps (docs/django-sessions.md §5.3, §7).
//
// Every file operation is relative to a descriptor of the directory opened
// once (openat/unlinkat/renameat), never follows a symbolic link
// (O_NOFOLLOW, lstat), and checks the key against VALID_KEY_CHARS before any
// name is built, so nothing is ever read or written outside the directory.
//
// The sources, one concern each: file_store.cpp (this class, one-record
// operations), file_save.cpp (sessions and the save protocol), file_scan.cpp
// (scans and the sweep), file_expiry.* (Django's expiry decision),
// safe_directory.* (the POSIX layer), temp_file_sweep.cpp (stale temporary
// files).

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "backends/store.hpp"
#include "core/session_base.hpp"

namespace sessionctl {

inline constexpr std::string_view kFileEngine = "django.contrib.sessions.backends.file";

struct FileStoreOptions {
    // SESSION_FILE_PATH, already resolved (see default_session_file_path()).
    std::string directory;
    // SESSION_COOKIE_NAME: the file name prefix.
    std::string prefix = "sessionid";
    // Refuse every write (save, delete, clear_expired without DryRun::yes,
    // remove); load() of an expired session then leaves its file alone.
    bool read_only = false;
    // mkdir(0700) the directory when it is missing (demo and tests only:
    // Django itself requires it to exist).
    bool create_directory = false;
    // Where problems that do not stop an operation go (an unreadable or
    // non-ASCII file during a sweep, a write Django would silently drop).
    // When empty they are kept and handed out by FileStore::take_messages().
    std::function<void(const std::string&)> on_warning;
    // A write that fails after the placeholder (no space, a failed rename) is
    // a StoreError instead of Django's silent drop, and a placeholder this
    // save created is removed again: an administrator's `create` or `expire`
    // must not report success for a session that was not saved (the CLI sets it).
    bool failed_writes_are_errors = false;
};

// tempfile.gettempdir(): the first of $TMPDIR, $TEMP, $TMP, /tmp, /var/tmp,
// /usr/tmp that is a writable directory, else the current directory.
[[nodiscard]] std::string default_session_file_path();

// Identity of a file as judged, compared again right before it is unlinked.
struct FileIdentity {
    std::uint64_t device = 0;
    std::uint64_t inode = 0;
    std::int64_t size = 0;
    std::int64_t mtime_sec = 0;
    std::int64_t mtime_nsec = 0;
    friend bool operator==(const FileIdentity&, const FileIdentity&) = default;
};

class FileStore final : public Store {
public:
    // Opens the directory. Throws StoreError when it does not exist or is not
    // a directory (Django's ImproperlyConfigured), ConfigError when the prefix
    // could not be a file name prefix (contains '/' or NUL).
    FileStore(std::shared_ptr<const SessionEnvironment> env, FileStoreOptions options);
    ~FileStore() override;
    FileStore(const FileStore&) = delete;
    FileStore& operator=(const FileStore&) = delete;

    [[nodiscard]] std::string_view engine() const override { return kFileEngine; }
    [[nodiscard]] const SessionEnvironment& environment() const override { return *env_; }
    [[nodiscard]] std::unique_ptr<SessionBase> open(std::optional<std::string> session_key) override;

    // The file of `key` as it is now. expire_date is the expiry Django's load()
    // would compute: an ISO-string _session_expiry parsed; mtime +
    // SESSION_COOKIE_AGE (aware UTC if USE_TZ, else naive local) when
    // _session_expiry is absent or falsy; nullopt when Django never expires it
    // server-side (numeric _session_expiry), for empty placeholder files, and
    // when Django's load() could not decide (non-ASCII content, unparsable
    // ISO string, 3.2 reading an ISO string). nullopt when there is no
    // regular file under that name (a symbolic link is never read). Throws
    // InvalidSessionKey for a key with characters outside VALID_KEY_CHARS, as
    // Django's exists()/delete() do.
    [[nodiscard]] std::optional<StoredSession> fetch(std::string_view key) override;

    // Streams the regular files whose name is the prefix + a key Django could
    // load (VALID_KEY_CHARS only, 8 characters or more), in directory order
    // (os.listdir's order), placeholders included. Skips other prefixes,
    // "_out_" temporary files, short or invalid keys, symbolic links and
    // anything that is not a regular file. Files are read and decoded on
    // worker threads (one per core, at most 4) a bounded number of entries
    // ahead (at most 1024), `visit` is called on this thread in order, so
    // memory does not grow with the directory.
    void scan(const std::function<bool(const StoredSession&)>& visit) override;

    // scan() with the caller's `examine` run on the same worker threads, right
    // after each file is read (max(workers, the readers') threads, a ring of
    // max(8, 2 * workers + 2) batches), so one pipeline runs, not a second one
    // over scan(). On this thread in readdir order: warnings, `before`, then
    // the step (or what examine threw).
    void scan_examined(ScanScope scope, std::size_t workers, const ScanExamine& examine,
                       const std::function<bool()>& before) override;

    // Django's load() decision for this content at `now`: false for an empty
    // placeholder (never checked, never swept); numeric _session_expiry =
    // seconds of age (so it expires server-side only when <= 0); an ISO
    // string is compared with now; otherwise expire_date (mtime + age) is.
    // false when Django's load() would raise instead (the sweep keeps such a
    // file and reports it). A record from fetch()/scan() with an expire_date
    // is decided from that date alone (it is the date judge() would compare),
    // without decoding the data again.
    [[nodiscard]] bool is_expired(const StoredSession& record, const DateTime& now) const override;

    // Django's clear_expired() sweep, file by file in directory order, except
    // that a file Django would choke on (non-ASCII content, an ISO expiry
    // Django cannot compare, an unreadable file) is reported and kept and
    // the sweep goes on. A file is unlinked only if it still has the same
    // device, inode, size and mtime as when it was judged, so a session a
    // live request rewrote meanwhile survives: the name is renamed aside to
    // ".sessionctl-sweep-<pid>-<n>" (atomic: no rewrite can slip in between),
    // checked there, and unlinked or put back at once. Reading
    // and judging run on worker threads as in scan(); warnings, unlinks and
    // test hooks happen on this thread, in readdir order.
    // `options`: only should_stop is honoured (polled between files); files
    // are not batched, each unlink stands alone.
    BulkResult clear_expired(DryRun dry_run, bool want_keys, const BulkOptions& options) override;
    BulkResult clear_expired(DryRun dry_run, bool want_keys) override {
        return clear_expired(dry_run, want_keys, BulkOptions{});
    }

    // Unlinks each record's file only if it still holds exactly record.data
    // (and is still the file that was compared).
    BulkResult remove(const std::vector<StoredSession>& records, bool want_keys) override;
    // rekey: each file that still holds exactly record.data (and is still the
    // file read) gets the new content under the same name and with the same
    // mtime, swapped in atomically (renameat2 RENAME_EXCHANGE) so the name is
    // never missing; a file rewritten meanwhile is swapped back and kept.
    [[nodiscard]] bool can_rewrite() const override { return true; }
    RewriteResult rewrite_unchanged(const std::vector<Rewrite>& rewrites, bool want_keys) override;

    // Whole files with the given content and an mtime of the expiry minus
    // SESSION_COOKIE_AGE (file_write.cpp): create through link() (atomic,
    // never an empty placeholder), replace through rename() after comparing
    // the content and identity.
    std::vector<WriteOutcome> write_sessions(const std::vector<SessionWrite>& batch, WriteMode mode) override;

    // Django's save() leaves "<prefix><key>_out_<random>" temporary files
    // behind when its process dies between mkstemp() and rename(); nothing
    // ever removes them. Those whose mtime is at least `min_age_seconds` old
    // (by the environment's clock) are listed in directory order.
    struct TempFile {
        std::string name;
        std::int64_t age_seconds = 0;
        std::uint64_t size = 0;
    };
    static constexpr std::int64_t kStaleTempAge = 86400;  // a day: no save() takes that long
    void scan_stale_temp_files(std::int64_t min_age_seconds, const std::function<bool(const TempFile&)>& visit);
    // Unlinks the stale temporary files, each only if it is still the file
    // that was listed (same inode, size and mtime); `keys` gets file names.
    BulkResult remove_stale_temp_files(std::int64_t min_age_seconds, DryRun dry_run, bool want_keys);
    // The Store's view of them: those kStaleTempAge old (count, bytes, the
    // directory; a count of 0 when there are none), and their removal.
    [[nodiscard]] bool has_leftovers() const override { return true; }
    [[nodiscard]] std::optional<StaleLeftovers> stale_leftovers() override;
    [[nodiscard]] std::optional<BulkResult> remove_stale_leftovers(DryRun dry_run, bool want_keys) override;

    [[nodiscard]] const std::string& directory() const { return options_.directory; }
    [[nodiscard]] const std::string& prefix() const { return options_.prefix; }
    // _key_to_file() without the directory: prefix + key. Throws
    // InvalidSessionKey("Invalid characters in session key") first.
    [[nodiscard]] std::string file_name(std::string_view key) const;

    // The warnings reported since the last call, as StoreMessage::Level::warning
    // (only when no on_warning sink was given; at most 1000 are kept, then a
    // count of the dropped ones).
    [[nodiscard]] std::vector<StoreMessage> take_messages() override;

    // Test seams: called with the file name right before the identity
    // re-check and unlink (sweep, remove) and right before the rename that
    // publishes a save.
    struct TestHooks {
        std::function<void(const std::string& file_name)> before_unlink;
        std::function<void(const std::string& file_name)> before_rename;
    };
    void set_test_hooks(TestHooks hooks) { hooks_ = std::move(hooks); }

private:
    friend class FileSession;

    enum class UnlinkOutcome { removed, changed, vanished, failed };

    // The candidates (prefix + valid key, in readdir order) through `work` on
    // worker threads (max(workers, the readers')), then `take` on this thread
    // in readdir order (false stops). hold_signals: termination signals wait
    // while a batch is taken (file_scan.cpp).
    template <class Item>
    void drive(const std::function<void(Item&)>& work, const std::function<bool(Item&)>& take,
               bool hold_signals = false, std::size_t workers = 0);
    // scan() and scan_examined(): each file read into a record (and examined,
    // when `examine` is given) on the workers; `take` gets those with a record.
    struct ScanItem;
    void scan_records(const ScanExamine* examine, std::size_t workers, const std::function<bool(ScanItem&)>& take);
    // Unlinks `name` only if it is still the file judged (safe_directory.cpp).
    [[nodiscard]] UnlinkOutcome unlink_if_same(const std::string& name, const FileIdentity& judged);
    [[nodiscard]] std::string aside_name();
    // save(): placeholder open, then temp file + rename.
    void write_file(const std::string& name, bool must_create, const std::function<std::string()>& encode);
    void delete_file(const std::string& name);
    // A complete temporary file for `name` holding `content` with that mtime;
    // its name. Throws StoreError (nothing left behind) when it cannot.
    [[nodiscard]] std::string write_temp_file(const std::string& name, std::string_view content,
                                              std::int64_t mtime_micros);
    [[nodiscard]] bool file_exists(const std::string& name) const;
    void require_writable(std::string_view what) const;
    void warn(const std::string& message);
    [[nodiscard]] std::string path_of(const std::string& name) const;

    std::shared_ptr<const SessionEnvironment> env_;
    FileStoreOptions options_;
    int dir_fd_ = -1;
    std::vector<std::string> warnings_;
    std::uint64_t dropped_warnings_ = 0;
    TestHooks hooks_;
    std::uint64_t aside_counter_ = 0;
    std::int64_t pid_ = 0;
    bool signals_held_ = false;  // by drive(), for a whole batch
};

}  // namespace sessionctl
