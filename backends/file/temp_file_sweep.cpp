// The file engine's stale temporary files: Django's save() leaves
// "<prefix><key>_out_<random>" behind when its process dies between mkstemp()
// and rename(), and nothing ever removes them. Listed and removed here, and
// offered to the CLI as the Store's stale leftovers.

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "backends/file/file_engine.hpp"
#include "backends/file/file_expiry.hpp"
#include "backends/file/safe_directory.hpp"
#include "backends/file/temp_file_names.hpp"
#include "core/session_key.hpp"

namespace sessionctl {

using namespace file_detail;

namespace {

// tempfile.mkstemp(prefix=<prefix><key>"_out_") appends 8 characters of
// tempfile's alphabet.
bool is_temp_name(std::string_view name, std::string_view prefix) {
    if (name.substr(0, prefix.size()) != prefix) return false;
    std::string_view rest = name.substr(prefix.size());
    auto marker = rest.rfind(kTempMarker);
    if (marker == std::string_view::npos) return false;
    std::string_view key = rest.substr(0, marker), suffix = rest.substr(marker + kTempMarker.size());
    return has_only_valid_key_chars(key) && !key.empty() && suffix.size() == kTempSuffixLength &&
           suffix.find_first_not_of(kTempNameChars) == std::string_view::npos;
}

}  // namespace

void FileStore::scan_stale_temp_files(std::int64_t min_age_seconds, const std::function<bool(const TempFile&)>& visit) {
    DirectoryListing listing(dir_fd_, options_.directory);
    const std::int64_t now = env_->clock->now_micros();
    while (const dirent* entry = listing.next()) {
        if (!is_temp_name(entry->d_name, options_.prefix)) continue;
        struct stat st {};
        if (::fstatat(dir_fd_, entry->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode)) continue;
        std::int64_t age = floor_seconds(now - python_mtime_micros(identity_of(st)));
        if (age < min_age_seconds) continue;
        if (!visit(TempFile{entry->d_name, age, static_cast<std::uint64_t>(st.st_size)})) return;
    }
}

BulkResult FileStore::remove_stale_temp_files(std::int64_t min_age_seconds, DryRun dry_run, bool want_keys) {
    if (dry_run == DryRun::no) require_writable("remove temporary files");
    std::vector<TempFile> stale;
    scan_stale_temp_files(min_age_seconds, [&](const TempFile& f) {
        stale.push_back(f);
        return true;
    });
    BulkResult result;
    const std::int64_t now = env_->clock->now_micros();
    for (const auto& f : stale) {
        ++result.matched;
        if (dry_run == DryRun::yes) {
            if (want_keys) result.keys.push_back(f.name);
            continue;
        }
        // Judged again right before the unlink: a temporary file is never
        // renamed over, so one that is still this old is still abandoned.
        struct stat st {};
        if (::fstatat(dir_fd_, f.name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode)) continue;
        if (floor_seconds(now - python_mtime_micros(identity_of(st))) < min_age_seconds) continue;
        if (::unlinkat(dir_fd_, f.name.c_str(), 0) != 0) {
            if (errno != ENOENT) warn(fmt::format("{}: cannot remove: {}", path_of(f.name), errno_text(errno)));
            continue;
        }
        ++result.removed;
        if (want_keys) result.keys.push_back(f.name);
    }
    return result;
}

std::optional<StaleLeftovers> FileStore::stale_leftovers() {
    StaleLeftovers found;
    found.where = options_.directory;
    scan_stale_temp_files(kStaleTempAge, [&](const TempFile& t) {
        ++found.count;
        found.bytes += t.size;
        return true;
    });
    return found;
}

std::optional<BulkResult> FileStore::remove_stale_leftovers(DryRun dry_run, bool want_keys) {
    return remove_stale_temp_files(kStaleTempAge, dry_run, want_keys);
}

}  // namespace sessionctl
