// The file engine's test fixture: a session directory with a FileStore over
// it at the vectors' time, shared by test_file_engine.cpp (Django's
// behaviours and vectors) and test_file_engine_sweep.cpp (scans, sweeps,
// links and leftovers).
#pragma once

#include <catch2/catch.hpp>

#include <fcntl.h>
#include <fmt/format.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>
#include <algorithm>
#include <atomic>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>
#include "backends/file/file_engine.hpp"
#include "backends/registry.hpp"
#include "core/clock.hpp"
#include "core/config.hpp"
#include "core/errors.hpp"
#include "core/session_base.hpp"
#include "core/session_key.hpp"
#include "tests/support/test_support.hpp"
#include "tests/support/vector_support.hpp"

namespace sessionctl::file_test {

namespace fs = std::filesystem;

constexpr std::int64_t kNowSeconds = 1700000000;  // the vectors' time.time() = 1700000000.75
constexpr std::int64_t kNowMicros = kNowSeconds * 1'000'000 + 750'000;
constexpr std::int64_t kAge = 1209600;  // SESSION_COOKIE_AGE
inline const std::string kVectorSecret = "vector-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz-ABCDEFG";

using sessionctl::testing::TempDir;

// Sets an environment variable for the scope of a test.
class ScopedEnv {
public:
    ScopedEnv(const char* name, const std::string& value) : name_(name) {
        if (const char* old = std::getenv(name)) old_ = old;
        ::setenv(name, value.c_str(), 1);
    }
    ~ScopedEnv() {
        if (old_) ::setenv(name_, old_->c_str(), 1);
        else ::unsetenv(name_);
    }
    ScopedEnv(const ScopedEnv&) = delete;
    ScopedEnv& operator=(const ScopedEnv&) = delete;

private:
    const char* name_;
    std::optional<std::string> old_;
};

struct Setup {
    SessionSettings settings{};
    std::string secret = kVectorSecret;
    std::string prefix = "sessionid";
    bool read_only = false;
};

// A session directory with a store over it, at the vectors' time.
class Fixture {
public:
    explicit Fixture(Setup setup = {})
        : clock_(std::make_shared<FakeClock>(kNowMicros)),
          env_(SessionEnvironment::make(setup.settings, SecretKeys{setup.secret, {}}, clock_)),
          dir_(tmp_.path() / "sessions") {
        fs::create_directory(dir_);
        FileStoreOptions options;
        options.directory = dir_.string();
        options.prefix = setup.prefix;
        options.read_only = setup.read_only;
        options.on_warning = [this](const std::string& w) { warnings_.push_back(w); };
        store_ = std::make_unique<FileStore>(env_, std::move(options));
    }

    FileStore& store() { return *store_; }
    FakeClock& clock() { return *clock_; }
    const SessionEnvironment& env() const { return *env_; }
    const fs::path& dir() const { return dir_; }
    const fs::path& outside() const { return tmp_.path(); }
    std::vector<std::string>& warnings() { return warnings_; }

    // The encoded session at the fixture's time (SessionStore().encode(d)).
    std::string encode(const PyDict& data) const { return env_->codec->encode(PyValue(data), clock_->now_seconds()); }

    // A file of the session directory with these bytes and an mtime of
    // now + offset seconds (the vectors' os.utime(T + offset)).
    void put(const std::string& name, const std::string& content, std::int64_t mtime_offset = -10) const {
        {
            std::ofstream out(dir_ / name, std::ios::binary | std::ios::trunc);
            out << content;
        }
        set_mtime(name, mtime_offset);
    }
    void set_mtime(const std::string& name, std::int64_t mtime_offset) const {
        std::int64_t micros = clock_->now_micros() + mtime_offset * 1'000'000;
        struct timespec times[2];
        times[0].tv_sec = times[1].tv_sec = static_cast<time_t>(micros / 1'000'000);
        times[0].tv_nsec = times[1].tv_nsec = static_cast<long>(micros % 1'000'000) * 1000;
        REQUIRE(::utimensat(AT_FDCWD, (dir_ / name).c_str(), times, AT_SYMLINK_NOFOLLOW) == 0);
    }

    [[nodiscard]] std::vector<std::string> listing() const {
        std::vector<std::string> names;
        for (const auto& e : fs::directory_iterator(dir_)) names.push_back(e.path().filename().string());
        std::sort(names.begin(), names.end());
        return names;
    }
    [[nodiscard]] bool has(const std::string& name) const {
        struct stat st {};
        return ::lstat((dir_ / name).c_str(), &st) == 0;
    }
    [[nodiscard]] std::string read(const std::string& name) const {
        std::ifstream in(dir_ / name, std::ios::binary);
        std::ostringstream ss;
        ss << in.rdbuf();
        return ss.str();
    }
    [[nodiscard]] unsigned mode(const std::string& name) const {
        struct stat st {};
        REQUIRE(::lstat((dir_ / name).c_str(), &st) == 0);
        return st.st_mode & 07777;
    }

    // A saved session holding `data`; returns its key.
    std::string saved(const PyDict& data) {
        auto session = store_->open(std::nullopt);
        session->update(data);
        session->save();
        return *session->session_key();
    }

    // What Django's save() does to publish a file: a new inode renamed over
    // the name (a live request rewriting the session).
    void rewrite_like_django(const std::string& name, const std::string& content) const {
        fs::path temp = dir_ / (name + "_out_rewrite1");
        {
            std::ofstream out(temp, std::ios::binary);
            out << content;
        }
        fs::rename(temp, dir_ / name);
    }

private:
    TempDir tmp_;
    std::shared_ptr<FakeClock> clock_;
    std::shared_ptr<const SessionEnvironment> env_;
    fs::path dir_;
    std::unique_ptr<FileStore> store_;
    std::vector<std::string> warnings_;
};

inline bool contains_text(const std::vector<std::string>& lines, const std::string& needle) {
    return std::any_of(lines.begin(), lines.end(),
                       [&](const std::string& l) { return l.find(needle) != std::string::npos; });
}

inline bool is_session_key(const std::optional<std::string>& key) {
    return key && key->size() == SESSION_KEY_LENGTH && key->find_first_not_of(VALID_KEY_CHARS) == std::string::npos;
}

inline Setup setup_for(const vectors::VersionDir& version) {
    Setup s;
    s.settings.use_tz = true;  // the generator's settings (TIME_ZONE UTC)
    s.settings.series = version.is_3_2 ? DjangoSeries::v3_2 : DjangoSeries::current;
    return s;
}

inline PyDict dict_of(const vectors::Json& j) { return vectors::to_py(j).as_dict(); }

}  // namespace sessionctl::file_test
