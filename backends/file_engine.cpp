#include "backends/file_engine.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <exception>
#include <filesystem>
#include <mutex>
#include <thread>
#include <utility>

#include <fmt/format.h>

#include "core/base64.hpp"
#include "core/config.hpp"
#include "core/errors.hpp"
#include "core/expiry.hpp"
#include "core/session_codec.hpp"
#include "core/session_key.hpp"
#include "core/zlib_codec.hpp"

namespace sessionctl {
namespace {

constexpr std::int64_t kMicros = 1'000'000;
// Same bound as the codec's max_blob_bytes: a session file is a few KiB.
constexpr std::int64_t kMaxFileBytes = std::int64_t{64} << 20;
// tempfile._RandomNameSequence.characters and tempfile.TMP_MAX.
constexpr std::string_view kTempNameChars = "abcdefghijklmnopqrstuvwxyz0123456789_";
constexpr int kTempAttempts = 10000;
constexpr std::size_t kMaxKeptWarnings = 1000;

std::string errno_text(int e) { return std::strerror(e); }

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

FileIdentity identity_of(const struct stat& st) {
    return {static_cast<std::uint64_t>(st.st_dev), static_cast<std::uint64_t>(st.st_ino),
            static_cast<std::int64_t>(st.st_size), static_cast<std::int64_t>(st.st_mtim.tv_sec),
            static_cast<std::int64_t>(st.st_mtim.tv_nsec)};
}

// datetime.fromtimestamp(os.stat(path).st_mtime): st_mtime is the double
// sec + nsec * 1e-9, whose fraction Python rounds half-even to microseconds.
// Done the same way so that a boundary (mtime + age == now) falls as in Django.
std::int64_t python_mtime_micros(const FileIdentity& id) {
    double t = static_cast<double>(id.mtime_sec) + static_cast<double>(id.mtime_nsec) * 1e-9;
    double whole = 0;
    double frac = std::modf(t, &whole) * 1e6;
    frac = std::nearbyint(frac);  // default rounding mode: half to even
    if (frac >= 1e6) {
        frac -= 1e6;
        whole += 1;
    } else if (frac < 0) {
        frac += 1e6;
        whole -= 1;
    }
    return static_cast<std::int64_t>(whole) * kMicros + static_cast<std::int64_t>(frac);
}

// _last_modification() + timedelta(seconds=get_session_cookie_age()).
DateTime mtime_plus_age(const FileIdentity& id, bool use_tz, std::int64_t cookie_age) {
    return DateTime::now(python_mtime_micros(id), use_tz).plus_micros(cookie_age * kMicros);
}

std::int64_t floor_seconds(std::int64_t micros) {
    std::int64_t q = micros / kMicros;
    if (micros % kMicros != 0 && micros < 0) --q;
    return q;
}

// Python's UnicodeDecodeError from open(path, encoding="ascii").read().
class NonAsciiContent : public StoreError {
public:
    using StoreError::StoreError;
};

std::optional<std::string> ascii_error(std::string_view content) {
    // Eight bytes at a time first: session files are ASCII.
    std::size_t i = 0;
    for (; i + 8 <= content.size(); i += 8) {
        std::uint64_t word;
        std::memcpy(&word, content.data() + i, 8);
        if (word & 0x8080808080808080ULL) break;
    }
    for (; i < content.size(); ++i) {
        auto byte = static_cast<unsigned char>(content[i]);
        if (byte >= 0x80)
            return fmt::format("'ascii' codec can't decode byte 0x{:02x} in position {}: ordinal not in range(128)",
                               byte, i);
    }
    return std::nullopt;
}

// `expiry_age <= 0` with Python's comparison rules for whatever
// get_expiry_age() returned (an int, a float, True, or 3.2's string).
bool age_is_not_positive(const PyValue& age) {
    if (age.is_int()) return age.as_int() <= 0;
    if (age.is_bigint()) return !age.as_bigint().decimal.empty() && age.as_bigint().decimal[0] == '-';
    if (age.is_float()) return age.as_float() <= 0.0;  // NaN: false
    if (age.is_bool()) return !age.as_bool();
    throw ExpiryError("TypeError",
                      fmt::format("'<=' not supported between instances of '{}' and 'int'", age.type_name()));
}

// True when decoding `content` cannot give a dict holding _session_expiry,
// found without the signature check or a JSON parse (most sessions have no
// _session_expiry, and for them expiry is mtime + age whatever the decoding
// says). The payload the codec would decode is looked at: the signed
// envelope's (base64url, maybe zlib), or for a value without ':' the pre-3.1
// one (base64 of "hash:json"; a value with ':' reaches that format only as
// base64 junk whose HMAC would have to match). It may contain neither the
// key's literal nor a backslash (the only other way to spell a JSON key),
// and the envelope's must be JSON text ('{' first): anything else, or any
// doubt, means "decode it".
bool cannot_hold_expiry(std::string_view content, std::size_t max_inflated) {
    constexpr std::string_view kKey = SessionBase::EXPIRY_KEY;
    auto may_name_it = [&](std::string_view bytes) {
        return bytes.find(kKey) != std::string_view::npos || bytes.find('\\') != std::string_view::npos;
    };
    auto sig = content.rfind(':');
    if (sig == std::string_view::npos) {
        try {
            std::string legacy = b64_decode_lenient(content);
            auto colon = legacy.find(':');
            return colon == std::string::npos || !may_name_it(std::string_view(legacy).substr(colon + 1));
        } catch (const std::exception&) {
            return true;  // not base64 either: no data at all
        }
    }
    std::string_view value = content.substr(0, sig);
    auto ts = value.rfind(':');
    if (ts == std::string_view::npos) return true;  // malformed envelope: no data
    std::string_view payload = value.substr(0, ts);
    bool compressed = !payload.empty() && payload.front() == '.';
    if (compressed) payload.remove_prefix(1);
    std::string bytes;
    try {
        bytes = b64url_decode_django(payload);
        if (compressed) bytes = zlib_decompress(bytes, max_inflated);
    } catch (const std::exception&) {
        return true;  // malformed: no data from the envelope
    }
    auto first = bytes.find_first_not_of(" \t\n\r");
    return first != std::string::npos && bytes[first] == '{' && !may_name_it(bytes);
}

enum class Verdict { placeholder, live, expired };

// The decision FileStore.load() makes about a file's content (spec §7):
// empty -> placeholder, no expiry check; otherwise decode ({} when it does not
// verify) and expiry = _session_expiry or (mtime + age), expired when
// get_expiry_age(expiry=expiry) <= 0. Throws what load() would raise:
// NonAsciiContent (UnicodeDecodeError) and ExpiryError (TypeError/ValueError).
// `limit` is mtime + age; when unknown, only _session_expiry can expire it.
Verdict judge(const SessionEnvironment& env, std::string_view content, const std::optional<DateTime>& limit,
              const DateTime& now, PyDict* decoded = nullptr) {
    if (content.empty()) return Verdict::placeholder;
    if (auto error = ascii_error(content)) throw NonAsciiContent(*error);
    // _session_expiry absent: mtime + age decides.
    if (!decoded && cannot_hold_expiry(content, env.codec->max_inflated_bytes())) {
        if (!limit) return Verdict::live;
        try {
            return floor_seconds(subtract_micros(*limit, now)) <= 0 ? Verdict::expired : Verdict::live;
        } catch (const DateTimeError& e) {
            throw ExpiryError(e.python_class(), e.what());
        }
    }
    PyDict data = SessionBase::session_dict_from(env.codec->decode(content));
    const PyValue* stored = data.find(SessionBase::EXPIRY_KEY);
    bool expired = false;
    if (stored && stored->truthy()) {
        // An int is returned unchanged as the age: never expires unless <= 0.
        expired = age_is_not_positive(expiry_age(stored, now, env.settings));
    } else if (limit) {
        try {
            expired = floor_seconds(subtract_micros(*limit, now)) <= 0;
        } catch (const DateTimeError& e) {
            throw ExpiryError(e.python_class(), e.what());
        }
    }
    if (decoded) *decoded = std::move(data);
    return expired ? Verdict::expired : Verdict::live;
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

// Signals that end the process by default: held back while a file is moved
// aside for its last check, so that an interrupted sweep cannot leave a live
// session under the aside name.
sigset_t terminating_signals() {
    sigset_t set;
    sigemptyset(&set);
    for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGPIPE}) sigaddset(&set, sig);
    return set;
}

class SignalHold {
public:
    SignalHold() {
        sigset_t set = terminating_signals();
        held_ = ::pthread_sigmask(SIG_BLOCK, &set, &old_) == 0;
    }
    ~SignalHold() {
        if (held_) ::pthread_sigmask(SIG_SETMASK, &old_, nullptr);
    }
    SignalHold(const SignalHold&) = delete;
    SignalHold& operator=(const SignalHold&) = delete;

private:
    sigset_t old_{};
    bool held_ = false;
};

// Bulk scans: the calling thread reads the directory and hands the entries,
// in batches, to worker threads that do the per-file work (open, read,
// decode, judge); the calling thread then takes the results back batch by
// batch in readdir order and does whatever must stay sequential (unlinks,
// warnings, the caller's callback). At most kMaxBatches * kBatchSize entries
// are in flight, so memory does not grow with the directory.
constexpr std::size_t kBatchSize = 128;
constexpr std::size_t kMaxBatches = 8;

// Worker threads: one per core, at most 4 (the work is a few microseconds
// of CPU and one small read per file).
unsigned scan_workers() {
    unsigned cores = std::thread::hardware_concurrency();
    return std::clamp(cores == 0 ? 2u : cores, 1u, 4u);
}

// Item needs `std::exception_ptr error`: what `work` threw, rethrown by the
// caller when it takes the item. `fill` appends the next entries to a batch
// and returns false at the end of the directory; the workers call it, one at
// a time, whenever fewer than kMaxBatches batches are in flight, so the
// calling thread only takes finished batches. Workers claim a few items at a
// time to keep the lock quiet.
template <class Item>
class OrderedPipeline {
public:
    // workers_fill: the workers read the directory too (else the caller does,
    // in pop_front()).
    OrderedPipeline(unsigned workers, bool workers_fill, std::function<bool(std::vector<Item>&)> fill,
                    std::function<void(Item&)> work)
        : workers_fill_(workers_fill), fill_(std::move(fill)), work_(std::move(work)) {
        threads_.reserve(workers);
        try {
            for (unsigned i = 0; i < workers; ++i) threads_.emplace_back([this] { run(); });
        } catch (...) {
            stop();
            throw;
        }
    }
    ~OrderedPipeline() { stop(); }
    OrderedPipeline(const OrderedPipeline&) = delete;
    OrderedPipeline& operator=(const OrderedPipeline&) = delete;

    // The oldest batch once all of it is done; empty at the end. Rethrows
    // what `fill` threw once the batches read before it are taken.
    std::vector<Item> pop_front() {
        std::unique_lock lock(mutex_);
        while (!workers_fill_ && may_read()) read_batch(lock);
        batch_done_.wait(lock, [&] {
            return batches_.empty() ? source_done_ : batches_.front().done == batches_.front().items.size();
        });
        if (batches_.empty()) {
            if (source_error_) std::rethrow_exception(std::exchange(source_error_, nullptr));
            return {};
        }
        std::vector<Item> items = std::move(batches_.front().items);
        batches_.pop_front();
        work_ready_.notify_all();  // room for another batch
        return items;
    }

private:
    static constexpr std::size_t kClaim = 8;

    struct Batch {
        std::vector<Item> items;
        std::size_t next = 0;  // first item no worker has taken
        std::size_t done = 0;  // items finished
    };

    [[nodiscard]] bool may_read() const { return !source_done_ && !reading_ && batches_.size() < kMaxBatches; }

    // One batch from `fill`, read without the lock (held on entry and exit).
    void read_batch(std::unique_lock<std::mutex>& lock) {
        reading_ = true;
        lock.unlock();
        std::vector<Item> items;
        items.reserve(kBatchSize);
        bool more = false;
        std::exception_ptr error;
        try {
            more = fill_(items);
        } catch (...) {
            error = std::current_exception();
        }
        lock.lock();
        reading_ = false;
        if (!more) {
            source_done_ = true;
            source_error_ = error;
        }
        if (!items.empty()) batches_.push_back(Batch{std::move(items)});
        work_ready_.notify_all();
        batch_done_.notify_all();
    }

    void run() {
        // Such signals go to the calling thread, which may hold them back.
        sigset_t set = terminating_signals();
        ::pthread_sigmask(SIG_BLOCK, &set, nullptr);
        std::unique_lock lock(mutex_);
        for (;;) {
            Batch* batch = nullptr;
            work_ready_.wait(lock, [&] {
                if (stopping_) return true;
                for (auto& b : batches_)  // std::deque: elements stay put
                    if (b.next < b.items.size()) {
                        batch = &b;
                        return true;
                    }
                return workers_fill_ && may_read();
            });
            if (stopping_) return;
            if (!batch) {  // read the next batch of the directory
                read_batch(lock);
                continue;
            }
            std::size_t first = batch->next;
            std::size_t count = std::min(kClaim, batch->items.size() - first);
            batch->next += count;
            lock.unlock();
            for (std::size_t i = first; i < first + count; ++i) {
                try {
                    work_(batch->items[i]);
                } catch (...) {
                    batch->items[i].error = std::current_exception();
                }
            }
            lock.lock();
            batch->done += count;
            if (batch->done == batch->items.size()) batch_done_.notify_all();
        }
    }

    void stop() {
        {
            std::lock_guard lock(mutex_);
            stopping_ = true;
        }
        work_ready_.notify_all();
        for (auto& t : threads_)
            if (t.joinable()) t.join();
        threads_.clear();
    }

    bool workers_fill_;
    std::function<bool(std::vector<Item>&)> fill_;
    std::function<void(Item&)> work_;
    std::mutex mutex_;
    std::condition_variable work_ready_;
    std::condition_variable batch_done_;
    std::deque<Batch> batches_;
    bool reading_ = false;
    bool source_done_ = false;
    std::exception_ptr source_error_;
    bool stopping_ = false;
    std::vector<std::thread> threads_;
};

}  // namespace

// ------------------------------------------------------------------ session --

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
        FileStore::ReadResult file = store_.read_file(store_.prefix() + key);
        if (file.status != FileStore::ReadStatus::ok) {
            if (file.status == FileStore::ReadStatus::failed)
                store_.warn(fmt::format("{}: {}", store_.path_of(store_.prefix() + key), file.error));
            set_session_key(std::nullopt);
            return {};
        }
        const SessionEnvironment& env = environment();
        PyDict data;
        Verdict verdict = judge(env, file.content,
                                mtime_plus_age(file.identity, env.settings.use_tz, get_session_cookie_age()), now(),
                                &data);
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

// -------------------------------------------------------------------- store --

std::string default_session_file_path() {
    namespace fs = std::filesystem;
    std::vector<std::string> candidates;
    for (const char* var : {"TMPDIR", "TEMP", "TMP"})
        if (const char* value = std::getenv(var); value && *value) candidates.emplace_back(value);
    for (const char* dir : {"/tmp", "/var/tmp", "/usr/tmp"}) candidates.emplace_back(dir);
    for (const auto& dir : candidates) {
        struct stat st {};
        if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode) || ::access(dir.c_str(), W_OK | X_OK) != 0)
            continue;
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
            throw StoreMissing(fmt::format("SESSION_FILE_PATH '{}' does not exist or is not a directory (Django needs "
                                         "an existing directory to store session files in)",
                                         options_.directory));
        throw StoreError(fmt::format("cannot open SESSION_FILE_PATH '{}': {}", options_.directory, errno_text(e)));
    }
}

FileStore::~FileStore() {
    if (dir_fd_ >= 0) ::close(dir_fd_);
}

std::unique_ptr<SessionBase> FileStore::open(std::optional<std::string> session_key) {
    return std::make_unique<FileSession>(std::move(session_key), env_, *this);
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

std::vector<std::string> FileStore::take_warnings() {
    std::vector<std::string> out = std::move(warnings_);
    warnings_.clear();
    if (dropped_warnings_) out.push_back(fmt::format("... and {} more warnings", dropped_warnings_));
    dropped_warnings_ = 0;
    return out;
}

FileStore::ReadResult FileStore::read_file(const std::string& name) const {
    ReadResult result;
    // O_NONBLOCK: a FIFO planted under a session name must not hang us.
    int fd = ::openat(dir_fd_, name.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
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
            throw StoreError(fmt::format("{} is a symbolic link; session files are never written through one",
                                         path_of(name)));
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
        temp = name + "_out_" + random_string(8, kTempNameChars);
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

// The prefix + valid key names of the directory, in readdir order, with
// what readdir says about their type.
class FileStore::CandidateReader {
public:
    explicit CandidateReader(const FileStore& store) : store_(store) {
        // A descriptor of its own (not a dup of dir_fd_, which would share the
        // read position), so scans can nest.
        int fd = ::openat(store.dir_fd_, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0) fail(errno);
        dir_ = ::fdopendir(fd);
        if (!dir_) {
            int e = errno;
            ::close(fd);
            fail(e);
        }
    }
    ~CandidateReader() { ::closedir(dir_); }
    CandidateReader(const CandidateReader&) = delete;
    CandidateReader& operator=(const CandidateReader&) = delete;

    // The next candidate; false at the end of the directory.
    bool next(std::string& name, bool& symlink) {
        const std::string& prefix = store_.options_.prefix;
        for (;;) {
            errno = 0;
            const dirent* entry = ::readdir(dir_);
            if (!entry) {
                if (errno != 0) fail(errno);
                return false;
            }
            std::string_view entry_name = entry->d_name;
            if (entry_name == "." || entry_name == ".." || entry_name.substr(0, prefix.size()) != prefix) continue;
            std::string_view key = entry_name.substr(prefix.size());
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
    }

private:
    [[noreturn]] void fail(int e) const {
        throw StoreError(fmt::format("cannot read session directory {}: {}", store_.options_.directory, errno_text(e)));
    }

    const FileStore& store_;
    DIR* dir_ = nullptr;
};

template <class Item>
void FileStore::drive(const std::function<void(Item&)>& work, const std::function<bool(Item&)>& take,
                      bool hold_signals) {
    CandidateReader reader(*this);
    // While this thread renames and unlinks in the directory, reading it
    // elsewhere would only contend for the directory's lock.
    OrderedPipeline<Item> pipeline(
        scan_workers(), /*workers_fill=*/!hold_signals,
        [&](std::vector<Item>& batch) {  // one thread at a time
            while (batch.size() < kBatchSize) {
                Item item;
                if (!reader.next(item.name, item.symlink)) return false;
                batch.push_back(std::move(item));
            }
            return true;
        },
        work);
    for (;;) {
        std::vector<Item> batch = pipeline.pop_front();
        if (batch.empty()) return;
        // A batch of unlinks takes a few milliseconds: termination signals
        // wait for its end rather than being blocked around every file.
        std::optional<SignalHold> hold;
        if (hold_signals) hold.emplace();
        struct Held {
            bool& flag;
            ~Held() { flag = false; }
        } held{signals_held_};
        signals_held_ = hold_signals;
        for (Item& item : batch) {
            if (item.error) std::rethrow_exception(item.error);
            if (!take(item)) return;
        }
    }
}

namespace {

// renameat2(RENAME_NOREPLACE), or a check + renameat() where the file system
// has no such flag. EEXIST when `to` exists.
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

}  // namespace

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

StoredSession FileStore::record_of(std::string key, ReadResult&& file) const {
    StoredSession record{std::move(key), std::move(file.content), std::nullopt};
    if (record.data.empty() || ascii_error(record.data)) return record;
    const SessionSettings& settings = env_->settings;
    if (cannot_hold_expiry(record.data, env_->codec->max_inflated_bytes())) {
        record.expire_date = mtime_plus_age(file.identity, settings.use_tz, settings.cookie_age);
        return record;
    }
    PyDict data = SessionBase::session_dict_from(env_->codec->decode(record.data));
    const PyValue* stored = data.find(SessionBase::EXPIRY_KEY);
    if (!stored || !stored->truthy()) {
        record.expire_date = mtime_plus_age(file.identity, settings.use_tz, settings.cookie_age);
    } else if (stored->is_str() && settings.series == DjangoSeries::current) {
        try {
            record.expire_date = parse_isoformat(stored->as_str());
        } catch (const DateTimeError&) {
            // load() raises ValueError: no date to show.
        }
    }
    return record;
}

std::optional<StoredSession> FileStore::fetch(std::string_view key) {
    std::string name = file_name(key);
    ReadResult file = read_file(name);
    switch (file.status) {
        case ReadStatus::ok: break;
        case ReadStatus::failed: throw StoreError(fmt::format("{}: {}", path_of(name), file.error));
        case ReadStatus::missing:
        case ReadStatus::symlink:
        case ReadStatus::not_regular: return std::nullopt;
    }
    return record_of(std::string(key), std::move(file));
}

namespace {

struct ScanItem {
    std::string name;
    bool symlink = false;
    std::optional<StoredSession> record;
    std::string warning;
    std::exception_ptr error;
};

struct SweepItem {
    std::string name;
    bool symlink = false;
    bool expired = false;
    FileIdentity identity;
    std::string warning;
    std::exception_ptr error;
};

}  // namespace

void FileStore::scan(const std::function<bool(const StoredSession&)>& visit) {
    const std::size_t key_at = options_.prefix.size();
    drive<ScanItem>(
        [&](ScanItem& item) {  // worker thread
            if (item.symlink) return;
            ReadResult file = read_file(item.name);
            if (file.status == ReadStatus::failed)
                item.warning = fmt::format("{}: {}; skipped", path_of(item.name), file.error);
            if (file.status != ReadStatus::ok) return;
            item.record = record_of(item.name.substr(key_at), std::move(file));
        },
        [&](ScanItem& item) {  // this thread, in readdir order
            if (!item.warning.empty()) warn(item.warning);
            return !item.record || visit(*item.record);
        });
}

bool FileStore::is_expired(const StoredSession& record, const DateTime& now) const {
    if (record.data.empty() || ascii_error(record.data)) return false;  // placeholder; load() raises
    if (record.expire_date) {
        // record_of() set it from a falsy _session_expiry (mtime + age) or an
        // ISO string one (parsed): judge() would compare the same date with
        // now, so the data need not be decoded again.
        try {
            return floor_seconds(subtract_micros(*record.expire_date, now)) <= 0;
        } catch (const DateTimeError&) {
            return false;  // TypeError in load(): clear_expired keeps the file
        }
    }
    try {
        return judge(*env_, record.data, record.expire_date, now) == Verdict::expired;
    } catch (const SessionError&) {
        return false;  // Django's load() raises; clear_expired keeps the file
    }
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
            ReadResult file = read_file(item.name);
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
                item.expired = judge(*env_, file.content,
                                     mtime_plus_age(file.identity, settings.use_tz, settings.cookie_age),
                                     now) == Verdict::expired;
            } catch (const ExpiryError& e) {
                item.warning = fmt::format("{}: {}: {}; kept (Django's clearsessions stops here)",
                                           path_of(item.name), e.python_class(), e.what());
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
        ReadResult file = read_file(name);
        if (file.status == ReadStatus::failed) warn(fmt::format("{}: {}; kept", path_of(name), file.error));
        if (file.status != ReadStatus::ok || file.content != record.data) continue;
        if (unlink_if_same(name, file.identity) == UnlinkOutcome::removed) {
            ++result.removed;
            if (want_keys) result.keys.push_back(record.key);
        }
    }
    return result;
}

namespace {

// tempfile.mkstemp(prefix=<prefix><key>"_out_") appends 8 characters of
// tempfile's alphabet.
bool is_temp_name(std::string_view name, std::string_view prefix) {
    constexpr std::string_view kMarker = "_out_";
    if (name.substr(0, prefix.size()) != prefix) return false;
    std::string_view rest = name.substr(prefix.size());
    auto marker = rest.rfind(kMarker);
    if (marker == std::string_view::npos) return false;
    std::string_view key = rest.substr(0, marker), suffix = rest.substr(marker + kMarker.size());
    return has_only_valid_key_chars(key) && !key.empty() && suffix.size() == 8 &&
           suffix.find_first_not_of(kTempNameChars) == std::string_view::npos;
}

}  // namespace

void FileStore::scan_stale_temp_files(std::int64_t min_age_seconds,
                                      const std::function<bool(const TempFile&)>& visit) {
    int fd = ::openat(dir_fd_, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) throw StoreError(fmt::format("cannot read session directory {}: {}", options_.directory, errno_text(errno)));
    DIR* dir = ::fdopendir(fd);
    if (!dir) {
        int e = errno;
        ::close(fd);
        throw StoreError(fmt::format("cannot read session directory {}: {}", options_.directory, errno_text(e)));
    }
    std::unique_ptr<DIR, int (*)(DIR*)> guard(dir, ::closedir);
    const std::int64_t now = env_->clock->now_micros();
    for (;;) {
        errno = 0;
        const dirent* entry = ::readdir(dir);
        if (!entry) {
            if (errno != 0)
                throw StoreError(fmt::format("cannot read session directory {}: {}", options_.directory, errno_text(errno)));
            return;
        }
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

}  // namespace sessionctl
