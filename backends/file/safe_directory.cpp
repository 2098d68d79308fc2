#include "backends/file/safe_directory.hpp"

#include <fcntl.h>
#include <pthread.h>

#include <cstdio>
#include <cstring>
#include <optional>
#include <utility>

#include <fmt/format.h>

#include "core/errors.hpp"

namespace sessionctl {
namespace file_detail {

std::string errno_text(int e) { return std::strerror(e); }

FileIdentity identity_of(const struct stat& st) {
    return {static_cast<std::uint64_t>(st.st_dev), static_cast<std::uint64_t>(st.st_ino),
            static_cast<std::int64_t>(st.st_size), static_cast<std::int64_t>(st.st_mtim.tv_sec),
            static_cast<std::int64_t>(st.st_mtim.tv_nsec)};
}

ReadResult read_regular_file(int dir_fd, const std::string& name) {
    ReadResult result;
    // O_NONBLOCK: a FIFO planted under a session name must not hang us.
    int fd = ::openat(dir_fd, name.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        if (e == ENOENT) result.status = ReadStatus::missing;
        else if (e == ELOOP) result.status = ReadStatus::symlink;
        else result.error = fmt::format("cannot open: {}", errno_text(e));
        return result;
    }
    UniqueFd guard(fd);
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
        result.error = fmt::format("cannot stat: {}", errno_text(errno));
        return result;
    }
    if (!S_ISREG(st.st_mode)) {
        result.status = ReadStatus::not_regular;
        return result;
    }
    if (st.st_size > kMaxFileBytes) {
        result.error = fmt::format("{} bytes is too large for a session file", static_cast<std::int64_t>(st.st_size));
        return result;
    }
    // One read() of size + 1 bytes: a short read of a regular file is its
    // end, so a session file costs a single read. More only if it grew.
    result.content.resize(static_cast<std::size_t>(st.st_size) + 1);
    std::size_t have = 0;
    for (;;) {
        ssize_t n = ::read(fd, result.content.data() + have, result.content.size() - have);
        if (n < 0) {
            if (errno == EINTR) continue;
            result.error = fmt::format("cannot read: {}", errno_text(errno));
            result.content.clear();
            return result;
        }
        have += static_cast<std::size_t>(n);
        if (n == 0 || have < result.content.size()) break;
        if (static_cast<std::int64_t>(have) > kMaxFileBytes) {
            result.error = "too large for a session file";
            result.content.clear();
            return result;
        }
        result.content.resize(have * 2);
    }
    result.content.resize(have);
    result.identity = identity_of(st);
    result.status = ReadStatus::ok;
    return result;
}

bool write_all(int fd, std::string_view bytes) {
    while (!bytes.empty()) {
        ssize_t n = ::write(fd, bytes.data(), bytes.size());
        if (n < 0) {
            if (errno == EINTR) continue;
            return false;
        }
        bytes.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
}

int rename_noreplace(int dir_fd, const char* from, const char* to) {
    if (::renameat2(dir_fd, from, dir_fd, to, RENAME_NOREPLACE) == 0) return 0;
    if (errno != EINVAL && errno != ENOSYS) return -1;
    struct stat st {};
    if (::fstatat(dir_fd, to, &st, AT_SYMLINK_NOFOLLOW) == 0) {
        errno = EEXIST;
        return -1;
    }
    return ::renameat(dir_fd, from, dir_fd, to);
}

DirectoryListing::DirectoryListing(int dir_fd, std::string path) : path_(std::move(path)) {
    int fd = ::openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) fail(errno);
    dir_ = ::fdopendir(fd);
    if (!dir_) {
        int e = errno;
        ::close(fd);
        fail(e);
    }
}

DirectoryListing::~DirectoryListing() { ::closedir(dir_); }

const dirent* DirectoryListing::next() {
    for (;;) {
        errno = 0;
        const dirent* entry = ::readdir(dir_);
        if (!entry) {
            if (errno != 0) fail(errno);
            return nullptr;
        }
        std::string_view name = entry->d_name;
        if (name != "." && name != "..") return entry;
    }
}

void DirectoryListing::fail(int e) const {
    throw StoreError(fmt::format("cannot read session directory {}: {}", path_, errno_text(e)));
}

namespace {

sigset_t terminating_signals() {
    sigset_t set;
    sigemptyset(&set);
    for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGPIPE}) sigaddset(&set, sig);
    return set;
}

}  // namespace

SignalHold::SignalHold() {
    sigset_t set = terminating_signals();
    held_ = ::pthread_sigmask(SIG_BLOCK, &set, &old_) == 0;
}

SignalHold::~SignalHold() {
    if (held_) ::pthread_sigmask(SIG_SETMASK, &old_, nullptr);
}

void block_terminating_signals() {
    sigset_t set = terminating_signals();
    ::pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

}  // namespace file_detail

using namespace file_detail;

std::string FileStore::aside_name() {
    // Never starts with the prefix (so neither Django nor a scan takes it for
    // a session) and is unique to this process.
    if (!pid_) pid_ = static_cast<std::int64_t>(::getpid());
    std::string name = fmt::format(".sessionctl-sweep-{}-{}", pid_, ++aside_counter_);
    if (!options_.prefix.empty() && name.compare(0, options_.prefix.size(), options_.prefix) == 0) name[0] = '#';
    return name;
}

FileStore::UnlinkOutcome FileStore::unlink_if_same(const std::string& name, const FileIdentity& judged) {
    if (hooks_.before_unlink) hooks_.before_unlink(name);
    // There is no "unlink this name if it is still that inode". A check
    // followed by unlink() leaves a gap in which a live request can rename its
    // new file over the name (Django's save()), and unlink() would remove
    // the new file. So the name is first moved aside, atomically, to a name
    // no one else uses, which takes whatever the name holds at that instant;
    // then it is checked. Django's save() publishes with a new inode
    // (created while the old one still exists, so it cannot reuse its
    // number): a session rewritten since it was judged has another inode or
    // mtime and is put back at once.
    std::optional<SignalHold> hold;
    if (!signals_held_) hold.emplace();
    std::string aside = aside_name();
    while (rename_noreplace(dir_fd_, name.c_str(), aside.c_str()) != 0) {
        int e = errno;
        if (e == EEXIST) {  // left over by an earlier process with our pid
            aside = aside_name();
            continue;
        }
        if (e == ENOENT) return UnlinkOutcome::vanished;
        // The directory itself refuses (no write permission, a read-only
        // mount): every other file would fail the same way, so stop with one
        // error (exit 3) instead of a warning per file and a success.
        if (e == EACCES || e == EROFS)
            throw StoreError(fmt::format("cannot remove sessions from {}: {}{}", options_.directory, errno_text(e),
                                         e == EACCES ? " (run sessionctl as the user that owns the sessions)" : ""));
        warn(fmt::format("{}: cannot remove: {}", path_of(name), errno_text(e)));
        return UnlinkOutcome::failed;
    }
    struct stat st {};
    bool same = ::fstatat(dir_fd_, aside.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode) &&
                identity_of(st) == judged;
    if (same) {
        if (::unlinkat(dir_fd_, aside.c_str(), 0) == 0) return UnlinkOutcome::removed;
        warn(fmt::format("{}: cannot remove: {}", path_of(name), errno_text(errno)));
    }
    // Not the file that was judged (or it could not be removed): put it back.
    if (rename_noreplace(dir_fd_, aside.c_str(), name.c_str()) != 0) {
        int e = errno;
        if (e == EEXIST) {
            // A newer file took the name meanwhile; it wins, as the last
            // rename does in Django.
            (void)::unlinkat(dir_fd_, aside.c_str(), 0);
        } else {
            warn(fmt::format("{}: moved aside to {} to be checked and could not be put back: {}", path_of(name),
                             path_of(aside), errno_text(e)));
        }
    }
    return same ? UnlinkOutcome::failed : UnlinkOutcome::changed;
}

}  // namespace sessionctl
