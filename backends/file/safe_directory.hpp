#pragma once

// The file engine's POSIX layer (internal to backends/file/): every operation
// is relative to a descriptor of the session directory (openat, renameat,
// unlinkat), never follows a symbolic link (O_NOFOLLOW, AT_SYMLINK_NOFOLLOW)
// and never blocks on something that is not a regular file (O_NONBLOCK).
// FileStore::unlink_if_same() and its aside names are defined with these
// (safe_directory.cpp).

#include <dirent.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <string>
#include <string_view>

#include "backends/file/file_engine.hpp"

namespace sessionctl::file_detail {

// Same bound as the codec's max_blob_bytes: a session file is a few KiB.
inline constexpr std::int64_t kMaxFileBytes = std::int64_t{64} << 20;

[[nodiscard]] std::string errno_text(int e);

class UniqueFd {
public:
    explicit UniqueFd(int fd) : fd_(fd) {}
    ~UniqueFd() { reset(); }
    UniqueFd(const UniqueFd&) = delete;
    UniqueFd& operator=(const UniqueFd&) = delete;
    [[nodiscard]] int get() const { return fd_; }
    // Closes now; returns close()'s errno (0 when fine).
    int reset() {
        int e = 0;
        if (fd_ >= 0 && ::close(fd_) != 0) e = errno;
        fd_ = -1;
        return e;
    }

private:
    int fd_;
};

[[nodiscard]] FileIdentity identity_of(const struct stat& st);

enum class ReadStatus { ok, missing, symlink, not_regular, failed };
struct ReadResult {
    ReadStatus status = ReadStatus::failed;
    std::string content;
    FileIdentity identity;
    std::string error;  // for failed
};

// The whole content of the regular file `name` in the directory `dir_fd`:
// a symbolic link is reported, never read; anything over kMaxFileBytes fails.
[[nodiscard]] ReadResult read_regular_file(int dir_fd, const std::string& name);

// Writes all of `bytes` (retrying short writes and EINTR); false with errno set.
[[nodiscard]] bool write_all(int fd, std::string_view bytes);

// renameat2(RENAME_NOREPLACE), or a check + renameat() where the file system
// has no such flag. EEXIST when `to` exists.
int rename_noreplace(int dir_fd, const char* from, const char* to);

// The entries of a directory (not "." or ".."), in readdir order, through a
// descriptor of their own (not a dup of dir_fd, which would share the read
// position), so listings can nest. Throws StoreError("cannot read session
// directory <path>: ...").
class DirectoryListing {
public:
    DirectoryListing(int dir_fd, std::string path);
    ~DirectoryListing();
    DirectoryListing(const DirectoryListing&) = delete;
    DirectoryListing& operator=(const DirectoryListing&) = delete;

    // The next entry; nullptr at the end of the directory.
    [[nodiscard]] const dirent* next();

private:
    [[noreturn]] void fail(int e) const;

    std::string path_;
    DIR* dir_ = nullptr;
};

// Signals that end the process by default: held back while a file is moved
// aside for its last check, so that an interrupted sweep cannot leave a live
// session under the aside name.
class SignalHold {
public:
    SignalHold();
    ~SignalHold();
    SignalHold(const SignalHold&) = delete;
    SignalHold& operator=(const SignalHold&) = delete;

private:
    sigset_t old_{};
    bool held_ = false;
};

// On a worker thread: such signals go to the calling thread, which may hold
// them back.
void block_terminating_signals();

}  // namespace sessionctl::file_detail
