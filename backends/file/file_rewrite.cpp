// FileStore::rewrite_unchanged (rekey): a session file replaced by new
// content, keeping its name and its mtime (the file engine's expiry), only
// when it still holds what was read.

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <optional>

#include <fmt/format.h>

#include "backends/file/file_engine.hpp"
#include "backends/file/safe_directory.hpp"
#include "core/session_key.hpp"

namespace sessionctl {
namespace {

struct timespec mtime_of(const FileIdentity& identity) {
    struct timespec t {};
    t.tv_sec = static_cast<time_t>(identity.mtime_sec);
    t.tv_nsec = static_cast<long>(identity.mtime_nsec);
    return t;
}

// Swaps two names atomically; false where the file system cannot.
bool exchange_names(int dir_fd, const std::string& a, const std::string& b) {
    return ::renameat2(dir_fd, a.c_str(), dir_fd, b.c_str(), RENAME_EXCHANGE) == 0;
}

bool same_file(int dir_fd, const std::string& name, const FileIdentity& expected) {
    struct stat st {};
    return ::fstatat(dir_fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && identity_of(st) == expected;
}

}  // namespace

RewriteResult FileStore::rewrite_unchanged(const std::vector<Rewrite>& rewrites, bool want_keys) {
    require_writable("rewrite sessions");
    RewriteResult result;
    std::optional<SignalHold> hold;  // no temporary file is left behind by a signal
    if (!signals_held_) hold.emplace();
    for (const auto& rewrite : rewrites) {
        const std::string& key = rewrite.record.key;
        if (key.empty() || !has_only_valid_key_chars(key)) continue;
        const std::string name = options_.prefix + key;
        ReadResult file = read_regular_file(dir_fd_, name);
        if (file.status == ReadStatus::failed) warn(fmt::format("{}: {}; kept", path_of(name), file.error));
        if (file.status != ReadStatus::ok || file.content != rewrite.record.data) continue;

        // The new content in a file of our own, with the old file's mtime.
        const std::string temp = aside_name();
        UniqueFd fd(::openat(dir_fd_, temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
        if (fd.get() < 0)
            throw StoreError(fmt::format("cannot write in {}: {}", options_.directory, errno_text(errno)));
        const struct timespec times[2] = {mtime_of(file.identity), mtime_of(file.identity)};
        const bool written = write_all(fd.get(), rewrite.data) && ::futimens(fd.get(), times) == 0;
        const int write_error = errno;
        if (!written || fd.reset() != 0) {
            ::unlinkat(dir_fd_, temp.c_str(), 0);
            throw StoreError(fmt::format("cannot write {}: {}", path_of(temp), errno_text(write_error)));
        }
        struct stat ours {};
        if (::fstatat(dir_fd_, temp.c_str(), &ours, AT_SYMLINK_NOFOLLOW) != 0) continue;
        const FileIdentity new_identity = identity_of(ours);

        if (hooks_.before_rename) hooks_.before_rename(name);
        bool replaced = false;
        if (exchange_names(dir_fd_, temp, name)) {
            // The name never goes missing: a request reading it meanwhile sees
            // the old or the new session, both valid. `temp` now holds what the
            // name held: if a request rewrote it after it was read, it goes back.
            if (same_file(dir_fd_, temp, file.identity)) {
                replaced = true;
            } else if (same_file(dir_fd_, name, new_identity)) {
                (void)exchange_names(dir_fd_, temp, name);
            }
        } else if (errno == EINVAL || errno == ENOSYS) {
            // No RENAME_EXCHANGE on this file system: check, then rename over
            // (the gap is the one Django's own save() has).
            if (same_file(dir_fd_, name, file.identity))
                replaced = ::renameat(dir_fd_, temp.c_str(), dir_fd_, name.c_str()) == 0;
        }
        ::unlinkat(dir_fd_, temp.c_str(), 0);  // the old file, ours, or nothing
        if (!replaced) continue;
        ++result.rewritten;
        if (want_keys) result.keys.push_back(key);
    }
    return result;
}

}  // namespace sessionctl
