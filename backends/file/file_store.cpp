// The file engine's store: the session directory opened once, file names,
// the messages gathered for the user, and the one-record operations (fetch,
// is_expired, remove). Sessions and saving are in file_save.cpp, directory
// scans and the sweep in file_scan.cpp, the expiry decision in
// file_expiry.cpp, the POSIX layer in safe_directory.cpp, stale temporary
// files in temp_file_sweep.cpp.

#include "backends/file/file_engine.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <utility>

#include <fmt/format.h>

#include "backends/file/file_expiry.hpp"
#include "backends/file/safe_directory.hpp"
#include "core/config.hpp"
#include "core/errors.hpp"
#include "core/session_key.hpp"

namespace sessionctl {

using namespace file_detail;

namespace {

constexpr std::size_t kMaxKeptWarnings = 1000;

}  // namespace

std::string default_session_file_path() {
    namespace fs = std::filesystem;
    std::vector<std::string> candidates;
    for (const char* var : {"TMPDIR", "TEMP", "TMP"})
        if (const char* value = std::getenv(var); value && *value) candidates.emplace_back(value);
    for (const char* dir : {"/tmp", "/var/tmp", "/usr/tmp"}) candidates.emplace_back(dir);
    for (const auto& dir : candidates) {
        struct stat st {};
        if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode) || ::access(dir.c_str(), W_OK | X_OK) != 0) continue;
        std::error_code ec;
        fs::path absolute = fs::absolute(dir, ec);
        if (ec) return dir;
        std::string normal = absolute.lexically_normal().string();  // os.path.abspath
        while (normal.size() > 1 && normal.back() == '/') normal.pop_back();
        return normal;
    }
    std::error_code ec;
    fs::path cwd = fs::current_path(ec);
    return ec ? std::string(".") : cwd.string();
}

FileStore::FileStore(std::shared_ptr<const SessionEnvironment> env, FileStoreOptions options)
    : env_(std::move(env)), options_(std::move(options)) {
    if (options_.prefix.find('/') != std::string::npos || options_.prefix.find('\0') != std::string::npos)
        throw ConfigError(fmt::format("SESSION_COOKIE_NAME '{}' cannot prefix a file name (it contains '/' or NUL)",
                                      options_.prefix));
    // `SESSION_FILE_PATH or tempfile.gettempdir()`: "" means unset too.
    if (options_.directory.empty()) options_.directory = default_session_file_path();
    const char* dir = options_.directory.c_str();
    dir_fd_ = ::open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir_fd_ < 0 && errno == ENOENT && options_.create_directory) {
        if (::mkdir(dir, 0700) == 0 || errno == EEXIST) dir_fd_ = ::open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    }
    if (dir_fd_ < 0) {
        int e = errno;
        if (e == ENOENT || e == ENOTDIR)
            throw StoreMissing(
                fmt::format("SESSION_FILE_PATH '{}' does not exist or is not a directory (Django needs "
                            "an existing directory to store session files in)",
                            options_.directory));
        throw StoreError(fmt::format("cannot open SESSION_FILE_PATH '{}': {}", options_.directory, errno_text(e)));
    }
}

FileStore::~FileStore() {
    if (dir_fd_ >= 0) ::close(dir_fd_);
}

std::string FileStore::file_name(std::string_view key) const {
    // Before anything else: the key is the only part of the name a client
    // controls, and VALID_KEY_CHARS has no '/', '.' or '\\'.
    if (!has_only_valid_key_chars(key)) throw InvalidSessionKey("Invalid characters in session key");
    return options_.prefix + std::string(key);
}

std::string FileStore::path_of(const std::string& name) const {
    if (!options_.directory.empty() && options_.directory.back() == '/') return options_.directory + name;
    return options_.directory + "/" + name;
}

void FileStore::require_writable(std::string_view what) const {
    if (options_.read_only) throw StoreError(fmt::format("the session store is open read-only: cannot {}", what));
}

void FileStore::warn(const std::string& message) {
    if (options_.on_warning) {
        options_.on_warning(message);
        return;
    }
    if (warnings_.size() < kMaxKeptWarnings) warnings_.push_back(message);
    else ++dropped_warnings_;
}

std::vector<StoreMessage> FileStore::take_messages() {
    std::vector<StoreMessage> out;
    out.reserve(warnings_.size() + 1);
    for (auto& text : warnings_) out.push_back({StoreMessage::Level::warning, std::move(text)});
    warnings_.clear();
    if (dropped_warnings_)
        out.push_back({StoreMessage::Level::warning, fmt::format("... and {} more warnings", dropped_warnings_)});
    dropped_warnings_ = 0;
    return out;
}

std::optional<StoredSession> FileStore::fetch(std::string_view key) {
    std::string name = file_name(key);
    ReadResult file = read_regular_file(dir_fd_, name);
    switch (file.status) {
        case ReadStatus::ok: break;
        case ReadStatus::failed: throw StoreError(fmt::format("{}: {}", path_of(name), file.error));
        case ReadStatus::missing:
        case ReadStatus::symlink:
        case ReadStatus::not_regular: return std::nullopt;
    }
    return record_of(*env_, std::string(key), std::move(file.content), file.identity);
}

bool FileStore::is_expired(const StoredSession& record, const DateTime& now) const {
    return record_is_expired(*env_, record, now);
}

BulkResult FileStore::remove(const std::vector<StoredSession>& records, bool want_keys) {
    require_writable("remove sessions");
    BulkResult result;
    for (const auto& record : records) {
        ++result.matched;
        if (!has_only_valid_key_chars(record.key) || record.key.empty()) {
            warn(fmt::format("session key '{}' has characters outside VALID_KEY_CHARS; skipped", record.key));
            continue;
        }
        std::string name = options_.prefix + record.key;
        ReadResult file = read_regular_file(dir_fd_, name);
        if (file.status == ReadStatus::failed) warn(fmt::format("{}: {}; kept", path_of(name), file.error));
        if (file.status != ReadStatus::ok || file.content != record.data) continue;
        if (unlink_if_same(name, file.identity) == UnlinkOutcome::removed) {
            ++result.removed;
            if (want_keys) result.keys.push_back(record.key);
        }
    }
    return result;
}

}  // namespace sessionctl
