#include "cli/file_lock.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "cli/exit_codes.hpp"

namespace sessionctl::cli {

FileLock::FileLock(const std::string& path) {
    fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd_ < 0) {
        int e = errno;
        throw CliError(ExitCode::unavailable, fmt::format("cannot open lock file {}: {}", path, std::strerror(e)));
    }
    if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
        int e = errno;
        ::close(fd_);
        fd_ = -1;
        if (e == EWOULDBLOCK) throw CliError(ExitCode::unavailable, fmt::format("another sessionctl holds {}", path));
        throw CliError(ExitCode::unavailable, fmt::format("cannot lock {}: {}", path, std::strerror(e)));
    }
}

FileLock::~FileLock() {
    if (fd_ >= 0) ::close(fd_);  // closing releases the flock
}

}  // namespace sessionctl::cli
