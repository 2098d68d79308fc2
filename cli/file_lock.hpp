#pragma once

// --lock FILE: one clearsessions at a time (e.g. overlapping cron runs).

#include <string>

namespace sessionctl::cli {

// flock(LOCK_EX | LOCK_NB) on a file created 0600 when missing; released when
// destroyed. Throws CliError(ExitCode::unavailable) "another sessionctl holds
// FILE" when another run (or open file description) holds it.
class FileLock {
public:
    explicit FileLock(const std::string& path);
    ~FileLock();
    FileLock(const FileLock&) = delete;
    FileLock& operator=(const FileLock&) = delete;

private:
    int fd_ = -1;
};

}  // namespace sessionctl::cli
