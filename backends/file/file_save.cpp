// The file engine's sessions and its save protocol: FileSession (Django's
// FileStore as a SessionBase: exists, load, save, delete) and
// FileStore::write_file(), which makes sure the file exists (an empty
// placeholder, O_EXCL) and then publishes the data through a temporary file
// renamed over the name, as Django's save() does.

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include <fmt/format.h>

#include "backends/file/file_engine.hpp"
#include "backends/file/file_expiry.hpp"
#include "backends/file/safe_directory.hpp"
#include "backends/file/temp_file_names.hpp"
#include "core/errors.hpp"
#include "core/session_key.hpp"

namespace sessionctl {

using namespace file_detail;

class FileSession final : public SessionBase {
public:
    FileSession(std::optional<std::string> key, std::shared_ptr<const SessionEnvironment> env, FileStore& store)
        : SessionBase(std::move(key), std::move(env)), store_(store) {}

    // os.path.exists(_key_to_file(key)), except that a dangling symbolic link
    // counts as taken (lstat): a new key must not land on any directory entry.
    bool exists(std::string_view session_key) override { return store_.file_exists(store_.file_name(session_key)); }

    void create() override { (void)create_by_saving(); }

    void save(bool must_create) override {
        if (!session_key()) {
            create();
            return;
        }
        store_.require_writable("save a session");
        // The data first, as Django: loading may reset the key, and then
        // _key_to_file() makes up a new one (whose file does not exist, so a
        // plain save raises UpdateError).
        PyDict data = must_create ? session_data_without_load() : session_data();
        std::string name = store_.file_name(get_or_create_session_key());
        store_.write_file(name, must_create, [&] { return encode(data); });
    }

    void delete_session(const std::optional<std::string>& key) override {
        std::optional<std::string> target = key ? key : session_key();
        if (!target) return;
        std::string name = store_.file_name(*target);  // InvalidSessionKey escapes, as in Django
        store_.require_writable("delete a session");
        store_.delete_file(name);
    }

    PyDict load() override {
        // _key_to_file() without a key uses _get_or_create_session_key().
        std::string key = get_or_create_session_key();
        // InvalidSessionKey and OSError are swallowed by load(): no session.
        if (!has_only_valid_key_chars(key)) {
            set_session_key(std::nullopt);
            return {};
        }
        ReadResult file = read_regular_file(store_.dir_fd_, store_.prefix() + key);
        if (file.status != ReadStatus::ok) {
            if (file.status == ReadStatus::failed)
                store_.warn(fmt::format("{}: {}", store_.path_of(store_.prefix() + key), file.error));
            set_session_key(std::nullopt);
            return {};
        }
        const SessionEnvironment& env = environment();
        PyDict data;
        Verdict verdict =
            judge(env, file.content, mtime_plus_age(file.identity, env.settings.use_tz, get_session_cookie_age()),
                  now(), &data);
        if (verdict != Verdict::expired) return data;
        // Expired: Django deletes the file and starts a new session (a new key
        // whose file holds the encoded {}).
        if (store_.options_.read_only) return {};
        delete_session(std::nullopt);
        create();
        return {};
    }

    void clear_expired() override { (void)store_.clear_expired(DryRun::no, false); }

private:
    FileStore& store_;
};

std::unique_ptr<SessionBase> FileStore::open(std::optional<std::string> session_key) {
    return std::make_unique<FileSession>(std::move(session_key), env_, *this);
}

bool FileStore::file_exists(const std::string& name) const {
    struct stat st {};
    return ::fstatat(dir_fd_, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0;
}

void FileStore::delete_file(const std::string& name) {
    // Django: os.unlink, OSError ignored. Only a regular file is ever removed.
    struct stat st {};
    if (::fstatat(dir_fd_, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode)) return;
    (void)::unlinkat(dir_fd_, name.c_str(), 0);
}

void FileStore::write_file(const std::string& name, bool must_create, const std::function<std::string()>& encode) {
    // 1. Make sure the file exists (new sessions get an empty placeholder):
    //    O_EXCL decides CreateError, a missing file UpdateError (never resurrect).
    //    Django's placeholder gets mode 0777 & ~umask; ours 0600 like the final file.
    int flags = O_WRONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC;
    if (must_create) flags |= O_CREAT | O_EXCL;
    int fd = ::openat(dir_fd_, name.c_str(), flags, 0600);
    const bool made_placeholder = fd >= 0 && must_create;
    if (fd < 0) {
        int e = errno;
        if (e == ENOENT) {
            if (!must_create) throw UpdateError();
            // must_create and ENOENT: the directory itself vanished. Django goes
            // on, and the temporary file below fails (reported).
        } else if (e == EEXIST) {
            if (must_create) throw CreateError();
        } else if (e == ELOOP) {
            throw StoreError(
                fmt::format("{} is a symbolic link; session files are never written through one", path_of(name)));
        } else {
            throw StoreError(fmt::format("cannot open session file {}: {}", path_of(name), errno_text(e)));
        }
    } else {
        struct stat st {};
        bool regular = ::fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
        ::close(fd);
        if (!regular) throw StoreError(fmt::format("{} is not a regular file", path_of(name)));
    }

    // 2. tempfile.mkstemp(dir=<the directory>, prefix=<name> + "_out_"), write,
    //    rename over the name. Django ignores any OSError here (the session is
    //    then silently not saved); we do too, but report it.
    std::string temp;
    int temp_fd = -1;
    int open_errno = 0;
    for (int attempt = 0; attempt < kTempAttempts; ++attempt) {
        temp = name + std::string(kTempMarker) + random_string(kTempSuffixLength, kTempNameChars);
        temp_fd = ::openat(dir_fd_, temp.c_str(), O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (temp_fd >= 0) break;
        open_errno = errno;
        if (open_errno != EEXIST) break;
    }
    // Django drops the session silently; we warn, or with
    // failed_writes_are_errors remove our placeholder and throw.
    auto not_saved = [&](const std::string& why) {
        const std::string message = fmt::format("{}: session not saved: {}", path_of(name), why);
        if (!options_.failed_writes_are_errors) return warn(message);
        if (made_placeholder) delete_file(name);
        throw StoreError(message);
    };
    if (temp_fd < 0) {
        not_saved(fmt::format("cannot create a temporary file: {}", errno_text(open_errno)));
        return;
    }
    UniqueFd temp_guard(temp_fd);
    auto discard_temp = [&] {
        temp_guard.reset();
        (void)::unlinkat(dir_fd_, temp.c_str(), 0);
    };
    std::string blob;
    try {
        blob = encode();  // a value JSON cannot hold escapes, as in Django
    } catch (...) {
        discard_temp();
        throw;
    }
    const char* failed_step = nullptr;
    int step_errno = 0;
    if (!write_all(temp_fd, blob)) failed_step = "write";
    // Django does not fsync; we do, so a crash cannot publish an empty file.
    else if (::fsync(temp_fd) != 0) failed_step = "fsync";
    if (failed_step) step_errno = errno;
    if (!failed_step) {
        step_errno = temp_guard.reset();
        if (step_errno) failed_step = "close";
    }
    if (failed_step) {
        discard_temp();
        not_saved(fmt::format("{} failed: {}", failed_step, errno_text(step_errno)));
        return;
    }
    if (hooks_.before_rename) hooks_.before_rename(name);
    if (::renameat(dir_fd_, temp.c_str(), dir_fd_, name.c_str()) != 0) {
        int e = errno;
        discard_temp();
        not_saved(fmt::format("rename failed: {}", errno_text(e)));
    }
}

}  // namespace sessionctl
