// FileStore::write_sessions(): sessions written whole with a given content
// and expiry (sessionctl copy). Each file is first written completely to a
// temporary file (Django's "<name>_out_<random>" naming) with its mtime set
// to the expiry minus SESSION_COOKIE_AGE (Django's load() and the sweep
// compute mtime + age), then published:
//   create: link() to the name, which fails if the name exists: an atomic
//           create that never shows a reader an empty placeholder.
//   replace: the file is read and compared with the expected content, and
//           the temporary file renamed over it only if it is still that same
//           file (device, inode, size, mtime) right before the rename. Files
//           have no compare-and-set: a request writing in the microseconds
//           between that check and the rename loses its write, as it would
//           to another request. Moving the file aside to compare it (as the
//           sweep does) would instead show a live request no session at all.

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <string>

#include <fmt/format.h>

#include "backends/file/file_engine.hpp"
#include "backends/file/safe_directory.hpp"
#include "backends/file/temp_file_names.hpp"
#include "core/errors.hpp"
#include "core/session_key.hpp"

namespace sessionctl {

using namespace file_detail;

std::string FileStore::write_temp_file(const std::string& name, std::string_view content, std::int64_t mtime_micros) {
    std::string temp;
    int fd = -1;
    int open_errno = 0;
    for (int attempt = 0; attempt < kTempAttempts; ++attempt) {
        temp = name + std::string(kTempMarker) + random_string(kTempSuffixLength, kTempNameChars);
        fd = ::openat(dir_fd_, temp.c_str(), O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd >= 0) break;
        open_errno = errno;
        if (open_errno != EEXIST) break;
    }
    if (fd < 0)
        throw StoreError(fmt::format("{}: cannot create a temporary file: {}", path_of(name), errno_text(open_errno)));
    UniqueFd guard(fd);
    // Python's st_mtime is a float of these: microseconds survive the round trip.
    const std::int64_t seconds =
        mtime_micros >= 0 ? mtime_micros / 1'000'000 : -((-mtime_micros + 999'999) / 1'000'000);
    const struct timespec times[2] = {
        {0, UTIME_OMIT},
        {static_cast<time_t>(seconds), static_cast<long>((mtime_micros - seconds * 1'000'000) * 1000)}};
    const char* failed_step = nullptr;
    if (!write_all(fd, content)) failed_step = "write";
    else if (::fsync(fd) != 0) failed_step = "fsync";
    else if (::futimens(fd, times) != 0) failed_step = "set the modification time";
    int e = failed_step ? errno : guard.reset();
    if (!failed_step && e) failed_step = "close";
    if (failed_step) {
        guard.reset();
        (void)::unlinkat(dir_fd_, temp.c_str(), 0);
        throw StoreError(
            fmt::format("{}: session not written: {} failed: {}", path_of(name), failed_step, errno_text(e)));
    }
    return temp;
}

std::vector<WriteOutcome> FileStore::write_sessions(const std::vector<SessionWrite>& batch, WriteMode mode) {
    require_writable("write sessions");
    const std::int64_t now = env_->clock->now_micros();
    const std::int64_t age_micros = env_->settings.cookie_age * 1'000'000;
    std::vector<WriteOutcome> outcomes;
    outcomes.reserve(batch.size());
    for (const SessionWrite& w : batch) {
        const std::string name = file_name(w.key);  // InvalidSessionKey before any I/O
        if (w.expires_at_micros <= now) {
            outcomes.push_back(WriteOutcome::expired);
            continue;
        }
        const std::string content =
            w.signed_data ? *w.signed_data : env_->codec->encode(PyValue(w.data), env_->clock->now_seconds());
        const std::string temp = write_temp_file(name, content, w.expires_at_micros - age_micros);
        auto drop_temp = [&] { (void)::unlinkat(dir_fd_, temp.c_str(), 0); };
        if (mode == WriteMode::create) {
            const int rc = ::linkat(dir_fd_, temp.c_str(), dir_fd_, name.c_str(), 0);
            const int e = errno;
            drop_temp();
            if (rc == 0) outcomes.push_back(WriteOutcome::written);
            else if (e == EEXIST) outcomes.push_back(WriteOutcome::key_taken);
            else throw StoreError(fmt::format("cannot create session file {}: {}", path_of(name), errno_text(e)));
            continue;
        }
        ReadResult current = read_regular_file(dir_fd_, name);
        struct stat st {};
        const bool unchanged = current.status == ReadStatus::ok && current.content == w.expected_data &&
                               ::fstatat(dir_fd_, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 &&
                               identity_of(st) == current.identity;
        if (!unchanged) {
            drop_temp();
            outcomes.push_back(WriteOutcome::changed);
            continue;
        }
        if (::renameat(dir_fd_, temp.c_str(), dir_fd_, name.c_str()) != 0) {
            const int e = errno;
            drop_temp();
            throw StoreError(fmt::format("cannot replace session file {}: {}", path_of(name), errno_text(e)));
        }
        outcomes.push_back(WriteOutcome::written);
    }
    return outcomes;
}

}  // namespace sessionctl
