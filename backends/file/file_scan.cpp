// The file engine's passes over the whole directory: scan(), scan_examined()
// and the clear_expired() sweep. All three run on one ordered pipeline
// (util/ordered_pipeline.hpp): the directory is read in batches, worker
// threads do the per-file work (open, read, decode, judge, and for
// scan_examined() the caller's examine), and the calling thread takes the
// results back batch by batch in readdir order and does whatever must stay
// sequential (unlinks, warnings, the caller's callback). At most a ring of
// batches is in flight, so memory does not grow with the directory.

#include <algorithm>
#include <exception>
#include <optional>
#include <string>
#include <thread>
#include <utility>

#include <fmt/format.h>

#include "backends/file/file_engine.hpp"
#include "backends/file/file_expiry.hpp"
#include "backends/file/safe_directory.hpp"
#include "core/errors.hpp"
#include "core/session_key.hpp"
#include "util/ordered_pipeline.hpp"

namespace sessionctl {

using namespace file_detail;

namespace {

// Batches in flight for the file engine's own passes: with kOrderedBatchItems
// entries each, at most 1024 entries are read ahead.
constexpr std::size_t kMaxBatches = 8;

// Worker threads: one per core, at most 4 (the work is a few microseconds
// of CPU and one small read per file).
std::size_t scan_workers() {
    unsigned cores = std::thread::hardware_concurrency();
    return std::clamp(cores == 0 ? 2u : cores, 1u, 4u);
}

// The prefix + valid key names of the directory, in readdir order, with
// what readdir says about their type.
class CandidateReader {
public:
    CandidateReader(int dir_fd, const std::string& directory, std::string prefix)
        : listing_(dir_fd, directory), prefix_(std::move(prefix)) {}

    // The next candidate; false at the end of the directory.
    bool next(std::string& name, bool& symlink) {
        while (const dirent* entry = listing_.next()) {
            std::string_view entry_name = entry->d_name;
            if (entry_name.substr(0, prefix_.size()) != prefix_) continue;
            std::string_view key = entry_name.substr(prefix_.size());
            // Django: InvalidSessionKey (uppercase, "_out_" temp files, ...) is
            // swallowed by load(); a key under 8 characters becomes None, so the
            // file is never looked at. Neither is a session Django can reach.
            if (!has_only_valid_key_chars(key) || !is_valid_session_key(key)) continue;
            symlink = false;
#ifdef _DIRENT_HAVE_D_TYPE
            if (entry->d_type == DT_LNK) symlink = true;
            else if (entry->d_type != DT_REG && entry->d_type != DT_UNKNOWN) continue;
#endif
            name.assign(entry_name);
            return true;
        }
        return false;
    }

private:
    DirectoryListing listing_;
    std::string prefix_;
};

// clear_expired(): a file read and judged on a worker.
struct SweepItem {
    std::string name;
    bool symlink = false;
    bool expired = false;
    FileIdentity identity;
    std::string warning;
    void clear_results() {
        expired = false;
        identity = {};
        warning.clear();
    }
};

}  // namespace

template <class Item>
void FileStore::drive(const std::function<void(Item&)>& work, const std::function<bool(Item&)>& take, bool hold_signals,
                      std::size_t workers) {
    CandidateReader reader(dir_fd_, options_.directory, options_.prefix);
    typename OrderedPipeline<Item>::Shape shape;
    shape.workers = std::max(workers, scan_workers());
    shape.batches = std::max(kMaxBatches, 2 * workers + 2);
    shape.worker_setup = block_terminating_signals;
    // A batch of unlinks takes a few milliseconds: termination signals
    // wait for its end rather than being blocked around every file.
    shape.around_take = [&](const std::function<void()>& take_batch) {
        std::optional<SignalHold> hold;
        if (hold_signals) hold.emplace();
        struct Held {
            bool& flag;
            ~Held() { flag = false; }
        } held{signals_held_};
        signals_held_ = hold_signals;
        take_batch();
    };
    OrderedPipeline<Item> pipeline(std::move(shape), work, take);
    // While this thread renames and unlinks in the directory, reading it
    // elsewhere would only contend for the directory's lock.
    (void)pipeline.run(
        [&](Item& item) {  // one thread at a time
            if (!reader.next(item.name, item.symlink)) return false;
            item.clear_results();
            return true;
        },
        /*workers_fill=*/!hold_signals);
}

// scan() and scan_examined(): a file read into a record on a worker, and
// (scan_examined) the caller's examine of it.
struct FileStore::ScanItem {
    std::string name;
    bool symlink = false;
    std::optional<StoredSession> record;
    std::string warning;
    ScanStep step;
    std::exception_ptr examine_error;  // rethrown in the record's turn
    void clear_results() {
        record.reset();
        warning.clear();
        step = nullptr;
        examine_error = nullptr;
    }
};

void FileStore::scan(const std::function<bool(const StoredSession&)>& visit) {
    scan_records(nullptr, 0, [&](ScanItem& item) { return visit(*item.record); });
}

void FileStore::scan_examined(ScanScope /*scope: a file's record is all there is*/, std::size_t workers,
                              const ScanExamine& examine, const std::function<bool()>& before) {
    scan_records(&examine, workers, [&](ScanItem& item) {
        if (before && !before()) return false;
        // In the record's turn, after `before`, as a sequential scan would.
        if (item.examine_error) std::rethrow_exception(item.examine_error);
        return item.step(*item.record);
    });
}

void FileStore::scan_records(const ScanExamine* examine, std::size_t workers,
                             const std::function<bool(ScanItem&)>& take) {
    const std::size_t key_at = options_.prefix.size();
    drive<ScanItem>(
        [&](ScanItem& item) {  // worker thread
            if (item.symlink) return;
            ReadResult file = read_regular_file(dir_fd_, item.name);
            if (file.status == ReadStatus::failed)
                item.warning = fmt::format("{}: {}; skipped", path_of(item.name), file.error);
            if (file.status != ReadStatus::ok) return;
            item.record = record_of(*env_, item.name.substr(key_at), std::move(file.content), file.identity);
            if (!examine) return;
            try {
                item.step = (*examine)(*item.record);
            } catch (...) {
                item.examine_error = std::current_exception();
            }
        },
        [&](ScanItem& item) {  // this thread, in readdir order
            if (!item.warning.empty()) warn(item.warning);
            return !item.record || take(item);
        },
        /*hold_signals=*/false, workers);
}

BulkResult FileStore::clear_expired(DryRun dry_run, bool want_keys, const BulkOptions& options) {
    if (dry_run == DryRun::no) require_writable("clear expired sessions");
    BulkResult result;
    const DateTime now = env_->now();
    const SessionSettings& settings = env_->settings;
    const std::size_t key_at = options_.prefix.size();
    drive<SweepItem>(
        [&](SweepItem& item) {  // worker thread: read and judge
            auto symlink_warning = [&] {
                item.warning = fmt::format("{}: a symbolic link; not followed, kept", path_of(item.name));
            };
            if (item.symlink) return symlink_warning();
            ReadResult file = read_regular_file(dir_fd_, item.name);
            switch (file.status) {
                case ReadStatus::ok: break;
                case ReadStatus::missing:  // removed meanwhile (by Django, say)
                case ReadStatus::not_regular: return;
                case ReadStatus::symlink: return symlink_warning();
                case ReadStatus::failed:
                    item.warning = fmt::format("{}: {}; kept", path_of(item.name), file.error);
                    return;
            }
            try {
                item.expired =
                    judge(*env_, file.content, mtime_plus_age(file.identity, settings.use_tz, settings.cookie_age),
                          now) == Verdict::expired;
            } catch (const ExpiryError& e) {
                item.warning = fmt::format("{}: {}: {}; kept (Django's clearsessions stops here)", path_of(item.name),
                                           e.python_class(), e.what());
            } catch (const NonAsciiContent& e) {
                item.warning = fmt::format("{}: UnicodeDecodeError: {}; kept (Django's clearsessions stops here)",
                                           path_of(item.name), e.what());
            }
            item.identity = file.identity;
        },
        [&](SweepItem& item) {  // this thread, in readdir order: unlink
            if (options.should_stop && options.should_stop()) {
                result.end = BulkEnd::stopped;
                return false;
            }
            if (!item.warning.empty()) warn(item.warning);
            if (!item.expired) return true;
            ++result.matched;
            if (dry_run == DryRun::yes) {
                if (want_keys) result.keys.push_back(item.name.substr(key_at));
                return true;
            }
            if (unlink_if_same(item.name, item.identity) == UnlinkOutcome::removed) {
                ++result.removed;
                if (want_keys) result.keys.push_back(item.name.substr(key_at));
            }
            return true;
        },
        /*hold_signals=*/dry_run == DryRun::no);
    std::sort(result.keys.begin(), result.keys.end());
    return result;
}

}  // namespace sessionctl
