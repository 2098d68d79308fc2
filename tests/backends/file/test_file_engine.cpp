// The file engine (django.contrib.sessions.backends.file): Django's
// SessionTestsMixin behaviours and FileSessionTests, the file_backend.json
// vectors of both Django versions, and what sessionctl adds (never follow a
// symlink, report and go on, re-check before unlink). Each test works in a
// fresh temporary directory; time comes from a FakeClock and file mtimes are
// set with utimensat, so no test sleeps.

#include <catch2/catch.hpp>

#include "tests/support/test_support.hpp"

#include <fcntl.h>
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

#include <fmt/format.h>

#include "backends/file/file_engine.hpp"
#include "backends/registry.hpp"
#include "core/clock.hpp"
#include "core/config.hpp"
#include "core/errors.hpp"
#include "core/session_base.hpp"
#include "core/session_key.hpp"
#include "tests/support/vector_support.hpp"

namespace fs = std::filesystem;
using namespace sessionctl;

namespace {

constexpr std::int64_t kNowSeconds = 1700000000;  // the vectors' time.time() = 1700000000.75
constexpr std::int64_t kNowMicros = kNowSeconds * 1'000'000 + 750'000;
constexpr std::int64_t kAge = 1209600;  // SESSION_COOKIE_AGE
const std::string kVectorSecret = "vector-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz-ABCDEFG";

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

bool contains_text(const std::vector<std::string>& lines, const std::string& needle) {
    return std::any_of(lines.begin(), lines.end(),
                       [&](const std::string& l) { return l.find(needle) != std::string::npos; });
}

bool is_session_key(const std::optional<std::string>& key) {
    return key && key->size() == SESSION_KEY_LENGTH && key->find_first_not_of(VALID_KEY_CHARS) == std::string::npos;
}

Setup setup_for(const vectors::VersionDir& version) {
    Setup s;
    s.settings.use_tz = true;  // the generator's settings (TIME_ZONE UTC)
    s.settings.series = version.is_3_2 ? DjangoSeries::v3_2 : DjangoSeries::current;
    return s;
}

PyDict dict_of(const vectors::Json& j) { return vectors::to_py(j).as_dict(); }

}  // namespace

// ---- SessionTestsMixin / FileSessionTests

TEST_CASE("a new file session is empty, unmodified and has no key", "[file]") {
    Fixture f;
    auto session = f.store().open(std::nullopt);
    CHECK_FALSE(session->modified());
    CHECK_FALSE(session->accessed());
    CHECK_FALSE(session->session_key());
    CHECK(session->keys().empty());
    CHECK(f.listing().empty());
}

TEST_CASE("save writes sessionid+key holding exactly encode(), mode 0600, no temp file left", "[file]") {
    Fixture f;
    mode_t old_umask = ::umask(0);  // the mode must not depend on a lenient umask
    auto session = f.store().open(std::nullopt);
    session->set("foo", "bar");
    session->save();
    ::umask(old_umask);

    REQUIRE(is_session_key(session->session_key()));
    std::string name = "sessionid" + *session->session_key();
    CHECK(f.listing() == std::vector<std::string>{name});
    CHECK(f.read(name) == f.encode(PyDict{{"foo", "bar"}}));
    CHECK(f.mode(name) == 0600);
    CHECK(session->exists(*session->session_key()));
    CHECK(f.warnings().empty());
}

TEST_CASE("a saved file session loads in a fresh session and save keeps the data", "[file]") {
    Fixture f;
    std::string key = f.saved(PyDict{{"a", 1}, {"b", "two"}});
    auto fresh = f.store().open(key);
    CHECK(fresh->get("a") == PyValue(1));
    CHECK(fresh->get("b") == PyValue("two"));
    fresh->set("c", 3);
    fresh->save();  // test_save_doesnt_clear_data
    auto again = f.store().open(key);
    CHECK(again->items().size() == 3);
    CHECK(again->session_key() == key);
}

TEST_CASE("delete removes the session file and exists() turns false", "[file]") {
    Fixture f;
    std::string key = f.saved(PyDict{{"foo", "bar"}});
    auto session = f.store().open(key);
    CHECK(session->exists(key));
    session->delete_session(key);
    CHECK_FALSE(session->exists(key));
    CHECK(f.listing().empty());
    session->delete_session(key);  // missing: no error, as Django's delete()
}

TEST_CASE("flush removes the file, clears the data and forgets the key", "[file]") {
    Fixture f;
    std::string key = f.saved(PyDict{{"foo", "bar"}});
    auto session = f.store().open(key);
    session->set("x", 1);
    session->flush();
    CHECK_FALSE(session->session_key());
    CHECK(session->keys().empty());
    CHECK(session->modified());
    CHECK_FALSE(session->exists(key));
    CHECK(f.listing().empty());
}

TEST_CASE("cycle_key keeps the data under a new key and removes the old file", "[file]") {
    Fixture f;
    std::string key = f.saved(PyDict{{"a", "c"}, {"b", "d"}});
    auto session = f.store().open(key);
    PyDict before;
    for (auto& [k, v] : session->items()) before.set(k, v);
    session->cycle_key();
    REQUIRE(is_session_key(session->session_key()));
    CHECK(*session->session_key() != key);
    CHECK_FALSE(session->exists(key));
    session->save();
    auto fresh = f.store().open(*session->session_key());
    CHECK(fresh->get("a") == PyValue("c"));
    CHECK(fresh->get("b") == PyValue("d"));
    CHECK(f.listing() == std::vector<std::string>{"sessionid" + *session->session_key()});
}

TEST_CASE("cycle_key with no loaded data still loads and moves it", "[file]") {
    Fixture f;
    std::string key = f.saved(PyDict{{"a", "b"}});
    auto session = f.store().open(key);  // nothing accessed yet
    session->cycle_key();
    session->save();
    auto fresh = f.store().open(*session->session_key());
    CHECK(fresh->get("a") == PyValue("b"));
    CHECK_FALSE(fresh->exists(key));
}

TEST_CASE("save after the file was deleted raises UpdateError and does not resurrect it", "[file][vectors]") {
    for (const auto& version : vectors::versions()) {
        CAPTURE(version.name);
        const auto& doc = vectors::load(version, "file_backend.json");
        CHECK(doc["save_after_file_deleted"]["exception"] == "django.contrib.sessions.backends.base.UpdateError");
        Fixture f(setup_for(version));
        auto session = f.store().open(std::nullopt);
        session->set("x", 1);
        session->save();
        std::string key = *session->session_key();
        // Logged out in another context: the file is gone.
        f.store().open(key)->delete_session(key);
        session->set("x", 2);
        CHECK_THROWS_AS(session->save(), UpdateError);
        CHECK(f.listing().empty());
    }
}

TEST_CASE("save(must_create) on an existing key raises CreateError and keeps the file", "[file][vectors]") {
    for (const auto& version : vectors::versions()) {
        CAPTURE(version.name);
        const auto& doc = vectors::load(version, "file_backend.json");
        CHECK(doc["save_must_create_on_existing_key"]["exception"] ==
              "django.contrib.sessions.backends.base.CreateError");
        Fixture f(setup_for(version));
        std::string key = f.saved(PyDict{{"foo", "bar"}});
        std::string content = f.read("sessionid" + key);
        auto dup = f.store().open(key);
        CHECK_THROWS_AS(dup->save(/*must_create=*/true), CreateError);
        CHECK(f.read("sessionid" + key) == content);
        CHECK(f.listing() == std::vector<std::string>{"sessionid" + key});
    }
}

TEST_CASE("loading an unknown key creates nothing; the next save uses a new key", "[file]") {
    Fixture f;
    std::string unknown(32, 'z');
    auto session = f.store().open(unknown);
    CHECK(session->keys().empty());
    CHECK_FALSE(session->session_key());
    CHECK(f.listing().empty());
    session->set("foo", "bar");
    session->save();
    REQUIRE(is_session_key(session->session_key()));
    CHECK(*session->session_key() != unknown);
    CHECK(f.listing() == std::vector<std::string>{"sessionid" + *session->session_key()});
}

TEST_CASE("an invalid (too short) key gets a new key on save (test_invalid_key)", "[file]") {
    Fixture f;
    auto session = f.store().open(std::string("1"));
    session->save();
    REQUIRE(is_session_key(session->session_key()));
    CHECK(*session->session_key() != "1");
    CHECK(session->get("cat").is_none());
    session->delete_session();
    CHECK(f.listing().empty());
}

TEST_CASE("an expiry date in the past expires the session at once (test_actual_expiry)", "[file]") {
    Fixture f;
    auto session = f.store().open(std::nullopt);
    session->set("foo", "bar");
    session->set_expiry(ExpiryDuration{-10'000'000});
    session->save();
    std::string old_key = *session->session_key();

    auto reloaded = f.store().open(old_key);
    CHECK_FALSE(reloaded->contains("foo"));
    // Django's load() deleted the expired file and created a new session.
    REQUIRE(is_session_key(reloaded->session_key()));
    CHECK(*reloaded->session_key() != old_key);
    CHECK_FALSE(f.has("sessionid" + old_key));
    CHECK(f.read("sessionid" + *reloaded->session_key()) == f.encode(PyDict{}));
}

TEST_CASE(
    "clearsessions removes a past int expiry and a no-expiry file at SESSION_COOKIE_AGE=0 "
    "(test_clearsessions_command)",
    "[file]") {
    Setup setup;
    setup.settings.cookie_age = 0;
    Fixture f(setup);
    auto future = f.store().open(std::nullopt);
    future->set("foo", "bar");
    future->set_expiry(std::int64_t{3600});
    future->save();
    auto past = f.store().open(std::nullopt);
    past->set("foo", "bar");
    past->set_expiry(std::int64_t{-3600});
    past->save();
    auto plain = f.store().open(std::nullopt);
    plain->set("foo", "bar");
    plain->save();
    // "now" for mtimes: files written at the fake clock's instant.
    for (const auto& name : f.listing()) f.set_mtime(name, 0);
    REQUIRE(f.listing().size() == 3);

    future->clear_expired();  // the session's (class) method delegates to the store
    CHECK(f.listing() == std::vector<std::string>{"sessionid" + *future->session_key()});
}

TEST_CASE("the session directory must exist", "[file]") {
    TempDir tmp;
    auto env =
        SessionEnvironment::make(SessionSettings{}, SecretKeys{"s", {}}, std::make_shared<FakeClock>(kNowMicros));
    FileStoreOptions options;
    options.directory = (tmp.path() / "missing").string();
    try {
        FileStore store(env, options);
        FAIL("no error for a missing directory");
    } catch (const StoreError& e) {
        CHECK(std::string(e.what()).find("SESSION_FILE_PATH") != std::string::npos);
        CHECK(std::string(e.what()).find("does not exist") != std::string::npos);
    }
    {
        std::ofstream(tmp.path() / "plain") << "x";
        options.directory = (tmp.path() / "plain").string();
        CHECK_THROWS_AS(FileStore(env, options), StoreError);
    }
    options.directory = (tmp.path() / "missing").string();
    options.create_directory = true;
    FileStore created(env, options);
    struct stat st {};
    REQUIRE(::stat(options.directory.c_str(), &st) == 0);
    CHECK(S_ISDIR(st.st_mode));
    CHECK((st.st_mode & 0777) == 0700);
}

TEST_CASE("SESSION_FILE_PATH unset means tempfile.gettempdir(): $TMPDIR first", "[file]") {
    TempDir tmp;
    ScopedEnv tmpdir("TMPDIR", tmp.path().string() + "/");
    CHECK(default_session_file_path() == tmp.path().string());
    auto env =
        SessionEnvironment::make(SessionSettings{}, SecretKeys{"s", {}}, std::make_shared<FakeClock>(kNowMicros));
    FileStore store(env, FileStoreOptions{});
    CHECK(store.directory() == tmp.path().string());
    {
        ScopedEnv missing("TMPDIR", (tmp.path() / "nope").string());
        ScopedEnv temp("TEMP", "");
        ScopedEnv tmpvar("TMP", "");
        CHECK(default_session_file_path() == "/tmp");
    }
}

TEST_CASE("a cookie name that is not a plain file name prefix is refused", "[file]") {
    TempDir tmp;
    auto env =
        SessionEnvironment::make(SessionSettings{}, SecretKeys{"s", {}}, std::make_shared<FakeClock>(kNowMicros));
    FileStoreOptions options;
    options.directory = tmp.path().string();
    options.prefix = "../session";
    CHECK_THROWS_AS(FileStore(env, options), ConfigError);
}

TEST_CASE("the registry opens the file engine from SESSION_FILE_PATH and SESSION_COOKIE_NAME", "[file]") {
    TempDir tmp;
    fs::create_directory(tmp.path() / "sessions");
    fs::path config_file = tmp.path() / "sessionctl.json";
    auto write_config = [&](const std::string& path_json) {
        std::ofstream out(config_file);
        out << R"({"SESSION_ENGINE": "file", "SESSION_COOKIE_NAME": "mycookie", "SESSION_FILE_PATH": )" << path_json
            << "}";
    };
    auto env =
        SessionEnvironment::make(SessionSettings{}, SecretKeys{"s", {}}, std::make_shared<FakeClock>(kNowMicros));
    ConfigSources sources;
    sources.config_path = config_file.string();

    write_config("\"" + (tmp.path() / "sessions").string() + "\"");
    auto store = open_store(Config::load(sources), env);
    CHECK(store->engine() == "django.contrib.sessions.backends.file");
    auto session = store->open(std::nullopt);
    session->set("k", "v");
    session->save();
    CHECK(fs::exists(tmp.path() / "sessions" / ("mycookie" + *session->session_key())));

    write_config("\"" + (tmp.path() / "missing").string() + "\"");
    CHECK_THROWS_AS(open_store(Config::load(sources), env), StoreError);

    ScopedEnv tmpdir("TMPDIR", (tmp.path() / "sessions").string());
    write_config("null");
    auto by_default = open_store(Config::load(sources), env);
    REQUIRE(by_default->fetch(*session->session_key()));
}

// ---- vectors

TEST_CASE("file names and bytes equal Django's for the vector secret and time", "[file][vectors]") {
    for (const auto& version : vectors::versions()) {
        CAPTURE(version.name);
        const auto& doc = vectors::load(version, "file_backend.json");
        const auto& signing = vectors::load(version, "signing.json");
        Fixture f(setup_for(version));
        CHECK(doc["SESSION_COOKIE_NAME"] == "sessionid");
        std::set<std::string> saved;
        for (const auto& file : doc["files"]) {
            std::string payload = file["payload"].get<std::string>();
            CAPTURE(payload);
            const vectors::Json* source = vectors::find_by(signing["cases"], "id", "session/" + payload);
            REQUIRE(source);
            // The name: SESSION_COOKIE_NAME + key, no separator.
            CHECK(f.store().file_name(file["session_key"].get<std::string>()) == file["file_name"].get<std::string>());
            // The bytes: what save() writes for that payload at that time.
            std::string key = f.saved(dict_of((*source)["object"]));
            std::string name = "sessionid" + key;
            CHECK(f.read(name) == file["content"].get<std::string>());
            CHECK(fmt::format("0o{:o}", f.mode(name)) == file["mode_octal"].get<std::string>());
            saved.insert(name);
        }
        // directory_listing_after_saves: just the session files, no leftovers.
        CHECK(doc["directory_listing_after_saves"].size() == saved.size());
        std::vector<std::string> listing = f.listing();
        CHECK(std::set<std::string>(listing.begin(), listing.end()) == saved);
    }
}

TEST_CASE("a new session is written as an empty placeholder plus a <name>_out_XXXXXXXX temp file", "[file][vectors]") {
    for (const auto& version : vectors::versions()) {
        CAPTURE(version.name);
        const auto& seq = vectors::load(version, "file_backend.json")["create_sequence"];
        Fixture f(setup_for(version));
        std::vector<std::string> during;
        std::string published;
        std::size_t placeholder_size = 99;
        unsigned placeholder_mode = 0;
        unsigned temp_mode = 0;
        f.store().set_test_hooks({{}, [&](const std::string& name) {
                                      during = f.listing();
                                      published = name;
                                      placeholder_size = f.read(name).size();
                                      placeholder_mode = f.mode(name);
                                      for (const auto& n : f.listing())
                                          if (n != name) temp_mode = f.mode(n);
                                  }});
        mode_t old_umask = ::umask(0);
        auto session = f.store().open(std::nullopt);
        session->set("foo", "bar");
        session->save();
        ::umask(old_umask);

        std::string name = "sessionid" + *session->session_key();
        CHECK(published == name);
        REQUIRE(during.size() == seq["listing_during_write"].size());
        CHECK(during[0] == name);
        CHECK(placeholder_size == 0);  // the hook ran before the rename
        CHECK(placeholder_mode == 0600);
        CHECK(temp_mode == 0600);
        const std::string& temp = during[1];
        std::string django_temp = seq["temp_name_pattern"].get<std::string>();
        std::string django_prefix = seq["listing_during_write"][0].get<std::string>() + "_out_";
        REQUIRE(django_temp.rfind(django_prefix, 0) == 0);
        REQUIRE(temp.rfind(name + "_out_", 0) == 0);
        // mkstemp's random part: 8 characters of "a-z0-9_".
        std::string random = temp.substr(name.size() + 5);
        CHECK(random.size() == django_temp.size() - django_prefix.size());
        CHECK(random.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789_") == std::string::npos);
        for (const auto& [n, size] : seq["placeholder_sizes"].items())
            if (n.find("_out_") == std::string::npos) CHECK(size == 0);
        CHECK(f.mode(name) == 0600);
        CHECK(f.listing() == std::vector<std::string>{name});
    }
}

TEST_CASE("key validation per method matches Django and happens before any path is used", "[file][vectors]") {
    for (const auto& version : vectors::versions()) {
        CAPTURE(version.name);
        const auto& cases = vectors::load(version, "file_backend.json")["key_validation"];
        REQUIRE(cases.size() == 9);
        for (auto it = cases.begin(); it != cases.end(); ++it) {
            const std::string key = it.key();
            const vectors::Json& methods = it.value();
            CAPTURE(key);
            Fixture f(setup_for(version));
            auto check_outcome = [&](const vectors::Json& expected, auto&& call, auto&& check_result) {
                if (expected.contains("exception")) {
                    CHECK(expected["exception"] == "django.contrib.sessions.exceptions.InvalidSessionKey");
                    try {
                        call();
                        FAIL("no InvalidSessionKey");
                    } catch (const InvalidSessionKey& e) {
                        CHECK(std::string(e.what()) == expected["exception_message"].get<std::string>());
                    }
                } else {
                    check_result(call());
                }
            };
            check_outcome(
                methods["_key_to_file"], [&] { return f.store().file_name(key); },
                [&](const std::string& name) { CHECK(name == methods["_key_to_file"]["result"].get<std::string>()); });
            check_outcome(
                methods["exists"], [&] { return f.store().open(std::nullopt)->exists(key); },
                [&](bool exists) { CHECK(exists == methods["exists"]["result"].get<bool>()); });
            check_outcome(
                methods["delete"],
                [&] {
                    f.store().open(std::nullopt)->delete_session(key);
                    return true;
                },
                [&](bool) { CHECK(methods["delete"]["result"].is_null()); });
            // load() swallows it: [{}, None].
            auto session = f.store().open(key);
            CHECK(session->load().empty());
            CHECK_FALSE(session->session_key());
            REQUIRE(methods["load"]["result"].size() == 2);
            CHECK(methods["load"]["result"][0].empty());
            CHECK(methods["load"]["result"][1].is_null());
            // fetch() is as strict as exists().
            if (methods["exists"].contains("exception")) CHECK_THROWS_AS(f.store().fetch(key), InvalidSessionKey);
            else CHECK_FALSE(f.store().fetch(key));
            CHECK(f.listing().empty());
        }
    }
}

TEST_CASE("a traversal key is refused although its path would reach an existing file outside", "[file]") {
    Fixture f;
    // With this directory, <dir>/sessionidabc/../../victim resolves to a real file.
    fs::create_directory(f.dir() / "sessionidabc");
    std::ofstream(f.outside() / "victim") << "do not touch";
    std::string key = "abc/../../victim";
    REQUIRE(fs::exists(f.dir() / ("sessionid" + key)));

    auto session = f.store().open(std::nullopt);
    CHECK_THROWS_AS(session->exists(key), InvalidSessionKey);
    CHECK_THROWS_AS(session->delete_session(key), InvalidSessionKey);
    CHECK_THROWS_AS(f.store().fetch(key), InvalidSessionKey);
    auto bad = f.store().open(key);
    CHECK(bad->load().empty());
    CHECK_FALSE(bad->session_key());
    CHECK(f.store().remove({StoredSession{key, "do not touch", std::nullopt}}, false).removed == 0);
    CHECK(fs::exists(f.outside() / "victim"));
    std::ifstream in(f.outside() / "victim");
    std::string text;
    std::getline(in, text);
    CHECK(text == "do not touch");
}

TEST_CASE("load decides expiry from _session_expiry or mtime + SESSION_COOKIE_AGE as Django does", "[file][vectors]") {
    for (const auto& version : vectors::versions()) {
        CAPTURE(version.name);
        const auto& cases = vectors::load(version, "file_backend.json")["load_expiry"];
        REQUIRE(cases.size() == 9);
        int index = 0;
        for (const auto& c : cases) {
            CAPTURE(c["case"].get<std::string>());
            Fixture f(setup_for(version));
            REQUIRE(c["now"].get<double>() == 1700000000.75);
            std::string key = fmt::format("exp{:029d}", index++);
            std::string name = "sessionid" + key;
            f.put(name, f.encode(dict_of(c["session"])), c["mtime_offset_s"].get<std::int64_t>());

            auto session = f.store().open(key);
            if (c["load"].contains("exception")) {
                try {
                    (void)session->load();
                    FAIL("load() did not raise");
                } catch (const ExpiryError& e) {
                    CHECK("builtins." + e.python_class() == c["load"]["exception"].get<std::string>());
                    CHECK(std::string(e.what()) == c["load"]["exception_message"].get<std::string>());
                }
            } else {
                PyDict loaded = session->load();
                CHECK(json_dumps(PyValue(loaded)) == vectors::expected_dumps(c["load"]["result"]));
            }
            bool kept = c["original_file_still_exists"].get<bool>();
            CHECK(f.has(name) == kept);
            std::vector<std::string> after = f.listing();
            REQUIRE(after.size() == c["dir_after"].size());
            if (kept) {
                CHECK(c["session_key_after"] == key);
                CHECK(session->session_key() == key);
                CHECK(after == std::vector<std::string>{name});
            } else {
                // Expired: deleted, and a new session (new key, encoded {}) created.
                CHECK(c["session_key_after"] != key);
                REQUIRE(is_session_key(session->session_key()));
                CHECK(*session->session_key() != key);
                CHECK(after == std::vector<std::string>{"sessionid" + *session->session_key()});
                CHECK(f.read(after[0]) == f.encode(PyDict{}));
            }
        }
    }
}

TEST_CASE("load of a non-ASCII file raises, like Django's UnicodeDecodeError", "[file][vectors]") {
    for (const auto& version : vectors::versions()) {
        CAPTURE(version.name);
        const auto& expected = vectors::load(version, "file_backend.json")["load_non_ascii_file_content"];
        Fixture f(setup_for(version));
        std::string key(32, '7');
        f.put("sessionid" + key, "\xc3\xa9:\xc3\xa9:\xc3\xa9", -(kAge + 10));
        auto session = f.store().open(key);
        try {
            (void)session->load();
            FAIL("load() did not raise");
        } catch (const StoreError& e) {
            CHECK(expected["exception"] == "builtins.UnicodeDecodeError");
            CHECK(std::string(e.what()) == expected["exception_message"].get<std::string>());
        }
        CHECK(f.has("sessionid" + key));
    }
}

TEST_CASE("clear_expired on Django's mixed directories deletes exactly what Django deletes", "[file][vectors]") {
    const char* scenarios[] = {"clear_expired", "clear_expired_iso_string_expiry",
                               "clear_expired_naive_iso_with_USE_TZ_True", "clear_expired_non_ascii_file_content"};
    for (const auto& version : vectors::versions()) {
        for (const char* scenario : scenarios) {
            CAPTURE(version.name, scenario);
            const auto& s = vectors::load(version, "file_backend.json")[scenario];
            Setup setup = setup_for(version);
            setup.settings.cookie_age = s["SESSION_COOKIE_AGE"].get<std::int64_t>();
            Fixture f(setup);
            REQUIRE(s["now"].get<double>() == 1700000000.75);
            for (const auto& file : s["files"])
                f.put(file["name"].get<std::string>(), file["content"].get<std::string>(),
                      file["mtime_offset_s"].get<std::int64_t>());
            std::vector<std::string> before = f.listing();
            CHECK(vectors::Json(before) == s["before"]);
            std::vector<std::string> deleted_keys;
            for (const auto& name : s["deleted"]) deleted_keys.push_back(name.get<std::string>().substr(9));

            // The store's view agrees with the sweep: scan yields every file
            // Django would load; is_expired is true exactly for the deleted ones.
            std::set<std::string> scanned, expired;
            f.store().scan([&](const StoredSession& record) {
                scanned.insert(record.key);
                if (f.store().is_expired(record, f.env().now())) expired.insert(record.key);
                return true;
            });
            CHECK(expired == std::set<std::string>(deleted_keys.begin(), deleted_keys.end()));
            std::set<std::string> loadable;  // the names Django's sweep gets past _key_to_file() with
            for (const auto& file : s["files"]) {
                std::string name = file["name"].get<std::string>();
                if (name.rfind("sessionid", 0) != 0) continue;
                std::string key = name.substr(9);
                if (key.size() >= 8 && key.find_first_not_of(VALID_KEY_CHARS) == std::string::npos)
                    loadable.insert(key);
            }
            CHECK(scanned == loadable);

            BulkResult dry = f.store().clear_expired(DryRun::yes, true);
            CHECK(dry.matched == deleted_keys.size());
            CHECK(dry.removed == 0);
            CHECK(dry.keys == deleted_keys);
            CHECK(f.listing() == before);
            f.warnings().clear();

            BulkResult done = f.store().clear_expired(DryRun::no, true);
            CHECK(done.matched == deleted_keys.size());
            CHECK(done.removed == deleted_keys.size());
            CHECK(done.keys == deleted_keys);
            CHECK(vectors::Json(f.listing()) == s["after"]);

            // Where Django's sweep raised, ours reported the file and went on.
            if (s["call"].contains("exception")) {
                std::string cls = s["call"]["exception"].get<std::string>().substr(std::string("builtins.").size());
                CHECK(contains_text(f.warnings(), cls + ": " + s["call"]["exception_message"].get<std::string>()));
            } else {
                CHECK(f.warnings().empty());
            }
        }
    }
}

TEST_CASE("scan yields placeholders and sessions but skips temp files, other prefixes, bad keys, links, dirs",
          "[file]") {
    Fixture f;
    std::string live = f.saved(PyDict{{"k", "v"}});
    f.put("sessionid" + std::string(32, 'e'), "", -(kAge + 10));       // placeholder
    f.put("sessionid" + std::string(32, 'g') + "_out_abc12345", "x");  // temp file
    f.put("othercookie" + std::string(32, 'h'), "x");
    f.put("sessionidABCDEFGHABCDEFGHABCDEFGHABCDEFGH", "x");
    f.put("sessionidshort", "x");
    fs::create_directory(f.dir() / ("sessionid" + std::string(32, 'i')));
    REQUIRE(::mkfifo((f.dir() / ("sessionid" + std::string(32, 'j'))).c_str(), 0600) == 0);
    fs::create_symlink(f.dir() / ("sessionid" + live), f.dir() / ("sessionid" + std::string(32, 'k')));

    std::set<std::string> keys;
    f.store().scan([&](const StoredSession& record) {
        keys.insert(record.key);
        return true;
    });
    CHECK(keys == std::set<std::string>{live, std::string(32, 'e')});

    int visits = 0;
    f.store().scan([&](const StoredSession&) { return ++visits < 1; });
    CHECK(visits == 1);  // stops when asked
    CHECK(f.warnings().empty());
}

TEST_CASE("fetch reports the expiry Django would use", "[file]") {
    Fixture f;
    std::string plain = f.saved(PyDict{{"k", "v"}});
    f.set_mtime("sessionid" + plain, -100);
    auto record = f.store().fetch(plain);
    REQUIRE(record);
    CHECK(record->data == f.read("sessionid" + plain));
    REQUIRE(record->expire_date);
    CHECK(*record->expire_date == DateTime::from_unix_utc(kNowMicros + (kAge - 100) * 1'000'000));
    CHECK_FALSE(f.store().is_expired(*record, f.env().now()));
    f.clock().advance_seconds(static_cast<double>(kAge - 100));
    CHECK(f.store().is_expired(*record, f.env().now()));  // age 0 -> expired (<= 0)

    std::string iso = f.saved(PyDict{{"_session_expiry", "2023-11-14T22:14:20+00:00"}});
    record = f.store().fetch(iso);
    REQUIRE(record);
    CHECK(record->expire_date == DateTime{parse_isoformat("2023-11-14T22:14:20+00:00")});

    std::string by_int = f.saved(PyDict{{"_session_expiry", 60}});
    f.set_mtime("sessionid" + by_int, -10 * kAge);
    record = f.store().fetch(by_int);
    REQUIRE(record);
    CHECK_FALSE(record->expire_date);  // never expires server-side
    CHECK_FALSE(f.store().is_expired(*record, f.env().now()));

    f.put("sessionid" + std::string(32, 'e'), "", -10 * kAge);
    record = f.store().fetch(std::string(32, 'e'));
    REQUIRE(record);
    CHECK(record->data.empty());
    CHECK_FALSE(record->expire_date);
    CHECK_FALSE(f.store().is_expired(*record, f.env().now()));

    CHECK_FALSE(f.store().fetch(std::string(32, 'q')));
}

TEST_CASE("with USE_TZ=False the mtime is naive local time", "[file]") {
    Setup setup;
    setup.settings.use_tz = false;
    Fixture f(setup);
    std::string key = f.saved(PyDict{{"k", "v"}});
    f.set_mtime("sessionid" + key, -(kAge - 1));
    auto record = f.store().fetch(key);
    REQUIRE(record);
    REQUIRE(record->expire_date);
    CHECK_FALSE(record->expire_date->aware());
    CHECK(*record->expire_date == DateTime::from_unix_local(kNowMicros + 1'000'000));
    CHECK_FALSE(f.store().is_expired(*record, f.env().now()));
    CHECK(f.store().open(key)->get("k") == PyValue("v"));
    f.set_mtime("sessionid" + key, -kAge);
    CHECK(f.store().clear_expired(DryRun::no, false).removed == 1);
}

TEST_CASE("a symbolic link in the directory is never followed, read, written or deleted", "[file]") {
    Fixture f;
    // An expired-looking session outside the directory, linked in under a session name.
    fs::path target = f.outside() / "target";
    std::string stale = f.encode(PyDict{{"k", "outside"}});
    std::ofstream(target, std::ios::binary) << stale;
    struct timespec old_times[2] = {{kNowSeconds - 10 * kAge, 0}, {kNowSeconds - 10 * kAge, 0}};
    REQUIRE(::utimensat(AT_FDCWD, target.c_str(), old_times, 0) == 0);
    std::string key(32, 's');
    std::string name = "sessionid" + key;
    fs::create_symlink(target, f.dir() / name);

    BulkResult swept = f.store().clear_expired(DryRun::no, true);
    CHECK(swept.removed == 0);
    CHECK(f.has(name));
    CHECK(fs::is_symlink(f.dir() / name));
    CHECK(fs::exists(target));
    CHECK(contains_text(f.warnings(), "symbolic link"));

    CHECK_FALSE(f.store().fetch(key));
    auto session = f.store().open(key);
    CHECK(session->load().empty());  // like an unreadable file: no session
    CHECK_FALSE(session->session_key());

    auto writer = f.store().open(key);
    CHECK_THROWS_AS(writer->save(/*must_create=*/true), CreateError);
    writer->delete_session(key);
    CHECK(fs::is_symlink(f.dir() / name));
    CHECK(f.store().remove({StoredSession{key, stale, std::nullopt}}, false).removed == 0);
    CHECK(fs::is_symlink(f.dir() / name));

    std::ifstream in(target, std::ios::binary);
    std::string now_there((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    CHECK(now_there == stale);
}

TEST_CASE("a save through a symbolic link is refused", "[file]") {
    Fixture f;
    fs::path target = f.outside() / "target";
    std::ofstream(target) << "outside";
    std::string key = f.saved(PyDict{{"k", "v"}});
    std::string name = "sessionid" + key;
    auto session = f.store().open(key);
    (void)session->keys();
    // The session's name became a link meanwhile: the update neither follows
    // nor replaces it.
    fs::remove(f.dir() / name);
    fs::create_symlink(target, f.dir() / name);
    session->set("k", "w");
    CHECK_THROWS_AS(session->save(), StoreError);
    CHECK(fs::is_symlink(f.dir() / name));
    CHECK(f.listing() == std::vector<std::string>{name});
    std::ifstream in(target);
    std::string text;
    std::getline(in, text);
    CHECK(text == "outside");
}

TEST_CASE("a non-ASCII or unreadable file is reported and the sweep goes on", "[file]") {
    Fixture f;
    f.put("sessionid" + std::string(32, '7'), "\xc3\xa9:\xc3\xa9:\xc3\xa9", -(kAge + 10));
    f.put("sessionid" + std::string(32, 'b'), f.encode(PyDict{{"k", "stale"}}), -(kAge + 10));
    f.put("sessionid" + std::string(32, '8'), f.encode(PyDict{{"_session_expiry", "2023-11-14T00:00:00"}}), -10);
    f.put("sessionid" + std::string(32, 'a'), f.encode(PyDict{{"k", "fresh"}}), -10);

    BulkResult result = f.store().clear_expired(DryRun::no, true);
    CHECK(result.keys == std::vector<std::string>{std::string(32, 'b')});
    CHECK(f.listing() == std::vector<std::string>{"sessionid" + std::string(32, '7'),
                                                  "sessionid" + std::string(32, '8'),
                                                  "sessionid" + std::string(32, 'a')});
    REQUIRE(f.warnings().size() == 2);
    CHECK(contains_text(f.warnings(), "sessionid" + std::string(32, '7') +
                                          ": UnicodeDecodeError: 'ascii' codec can't decode byte 0xc3"));
    CHECK(contains_text(f.warnings(), "sessionid" + std::string(32, '8') +
                                          ": TypeError: can't subtract offset-naive and offset-aware datetimes"));
}

TEST_CASE("without a sink, warnings are kept for take_messages()", "[file]") {
    TempDir tmp;
    auto env =
        SessionEnvironment::make(SessionSettings{}, SecretKeys{"s", {}}, std::make_shared<FakeClock>(kNowMicros));
    FileStoreOptions options;
    options.directory = tmp.path().string();
    FileStore store(env, options);
    Store& as_store = store;  // what the CLI sees
    std::ofstream(tmp.path() / ("sessionid" + std::string(32, '7'))) << "\xc3\xa9";
    (void)store.clear_expired(DryRun::yes, false);
    std::vector<StoreMessage> taken = as_store.take_messages();
    REQUIRE(taken.size() == 1);
    CHECK(taken[0].level == StoreMessage::Level::warning);
    CHECK(taken[0].text.find("UnicodeDecodeError") != std::string::npos);
    CHECK(as_store.take_messages().empty());
}

TEST_CASE("take_messages() keeps the first 1000 warnings and counts the rest", "[file]") {
    TempDir tmp;
    auto env =
        SessionEnvironment::make(SessionSettings{}, SecretKeys{"s", {}}, std::make_shared<FakeClock>(kNowMicros));
    FileStoreOptions options;
    options.directory = tmp.path().string();
    FileStore store(env, options);
    for (int i = 0; i < 1003; ++i) std::ofstream(tmp.path() / fmt::format("sessionid{:032d}", i)) << "\xc3\xa9";
    (void)store.clear_expired(DryRun::yes, false);
    std::vector<StoreMessage> taken = store.take_messages();
    REQUIRE(taken.size() == 1001);
    CHECK(taken[999].text.find("UnicodeDecodeError") != std::string::npos);
    CHECK(taken[1000].level == StoreMessage::Level::warning);
    CHECK(taken[1000].text == "... and 3 more warnings");
    CHECK(store.take_messages().empty());  // the count is handed out once too
}

TEST_CASE("a session rewritten between judgement and unlink survives the sweep", "[file]") {
    Fixture f;
    std::string key(32, 'b');
    std::string name = "sessionid" + key;
    f.put(name, f.encode(PyDict{{"k", "stale"}}), -(kAge + 10));
    std::string rewritten = f.encode(PyDict{{"k", "rewritten by a live request"}});

    SECTION("replaced by a new file, as Django's save() does") {
        f.store().set_test_hooks({[&](const std::string& n) {
                                      if (n == name) f.rewrite_like_django(n, rewritten);
                                  },
                                  {}});
    }
    SECTION("touched in place") {
        f.store().set_test_hooks({[&](const std::string& n) {
                                      if (n == name) f.set_mtime(n, 0);
                                  },
                                  {}});
        rewritten = f.read(name);
    }
    BulkResult result = f.store().clear_expired(DryRun::no, true);
    CHECK(result.matched == 1);
    CHECK(result.removed == 0);
    CHECK(result.keys.empty());
    REQUIRE(f.has(name));
    CHECK(f.read(name) == rewritten);
}

TEST_CASE("remove deletes a file only while it still holds the data that was read", "[file]") {
    Fixture f;
    std::string same = f.saved(PyDict{{"k", "same"}});
    std::string changed = f.saved(PyDict{{"k", "before"}});
    std::string raced = f.saved(PyDict{{"k", "raced"}});
    auto a = f.store().fetch(same);
    auto b = f.store().fetch(changed);
    auto c = f.store().fetch(raced);
    REQUIRE((a && b && c));
    f.rewrite_like_django("sessionid" + changed, f.encode(PyDict{{"k", "after"}}));
    // Same bytes, but a new file by the time of the unlink: kept too.
    f.store().set_test_hooks({[&](const std::string& n) {
                                  if (n == "sessionid" + raced) f.rewrite_like_django(n, c->data);
                              },
                              {}});

    BulkResult result = f.store().remove({*a, *b, *c, StoredSession{std::string(32, 'n'), "x", std::nullopt}}, true);
    CHECK(result.matched == 4);
    CHECK(result.removed == 1);
    CHECK(result.keys == std::vector<std::string>{same});
    CHECK_FALSE(f.has("sessionid" + same));
    CHECK(f.has("sessionid" + changed));
    CHECK(f.has("sessionid" + raced));
}

TEST_CASE("a failed write after the placeholder is ignored like Django but reported", "[file]") {
    Fixture f;
    auto session = f.store().open(std::nullopt);
    session->set("foo", "bar");
    std::string blocked;
    f.store().set_test_hooks({{}, [&](const std::string& name) {
                                  // The rename target becomes a non-empty directory.
                                  blocked = name;
                                  fs::remove(f.dir() / name);
                                  fs::create_directory(f.dir() / name);
                                  std::ofstream(f.dir() / name / "x") << "x";
                              }});
    CHECK_NOTHROW(session->save());
    CHECK(contains_text(f.warnings(), blocked + ": session not saved: rename failed"));
    // The temporary file was removed.
    CHECK(f.listing() == std::vector<std::string>{blocked});
}

TEST_CASE("a read-only file store refuses writes and leaves expired files alone", "[file]") {
    Setup setup;
    setup.read_only = true;
    Fixture f(setup);
    std::string key(32, 'b');
    f.put("sessionid" + key, f.encode(PyDict{{"k", "stale"}}), -(kAge + 10));
    auto session = f.store().open(key);
    CHECK(session->keys().empty());
    CHECK(f.has("sessionid" + key));
    auto writer = f.store().open(std::nullopt);
    writer->set("a", 1);
    CHECK_THROWS_AS(writer->save(), StoreError);
    CHECK(f.store().clear_expired(DryRun::yes, false).matched == 1);
    CHECK_THROWS_AS(f.store().clear_expired(DryRun::no, false), StoreError);
    CHECK_THROWS_AS(f.store().remove({}, false), StoreError);
    CHECK(f.listing() == std::vector<std::string>{"sessionid" + key});
}

TEST_CASE("sweeps and scans of directories larger than the in-flight window stay exact and in readdir order",
          "[file]") {
    // More entries than the worker pipeline holds at once (8 batches of 128).
    Fixture f;
    const int n = 2600;
    std::string stale = f.encode(PyDict{{"k", "stale"}});
    std::string fresh = f.encode(PyDict{{"k", "fresh"}});
    std::set<std::string> stale_keys, fresh_keys;
    for (int i = 0; i < n; ++i) {
        std::string key = fmt::format("{:032d}", i);
        bool is_stale = i % 5 != 0;
        f.put("sessionid" + key, is_stale ? stale : fresh, is_stale ? -(kAge + 10) : -10);
        (is_stale ? stale_keys : fresh_keys).insert(key);
    }
    std::vector<std::string> readdir_order;
    for (const auto& e : fs::directory_iterator(f.dir()))
        readdir_order.push_back(e.path().filename().string().substr(9));

    std::vector<std::string> scanned;
    std::size_t expired = 0;
    f.store().scan([&](const StoredSession& record) {
        scanned.push_back(record.key);
        if (f.store().is_expired(record, f.env().now())) ++expired;
        return true;
    });
    CHECK(scanned == readdir_order);
    CHECK(expired == stale_keys.size());

    std::size_t visits = 0;
    f.store().scan([&](const StoredSession&) { return ++visits < 1500; });
    CHECK(visits == 1500);  // stops in the middle of the window

    BulkResult dry = f.store().clear_expired(DryRun::yes, true);
    CHECK(dry.matched == stale_keys.size());
    CHECK(std::set<std::string>(dry.keys.begin(), dry.keys.end()) == stale_keys);
    BulkResult done = f.store().clear_expired(DryRun::no, true);
    CHECK(done.removed == stale_keys.size());
    CHECK(std::is_sorted(done.keys.begin(), done.keys.end()));
    std::vector<std::string> left;
    for (const auto& name : f.listing()) left.push_back(name.substr(9));
    CHECK(std::set<std::string>(left.begin(), left.end()) == fresh_keys);
    CHECK(f.warnings().empty());
}

TEST_CASE("scan_examined runs the caller's examine on the readers' workers and its steps in readdir order", "[file]") {
    Fixture f;
    const int n = 2600;  // more than the window in flight
    for (int i = 0; i < n; ++i) f.put(fmt::format("sessionid{:032d}", i), f.encode(PyDict{{"i", i}}));
    f.put("sessionid" + std::string(32, 'x') + "_out_k3j9x2a1", "not a session");
    fs::create_directory(f.dir() / ("sessionid" + std::string(32, 'y')));
    std::vector<std::string> scanned;
    f.store().scan([&](const StoredSession& record) {
        scanned.push_back(record.key);
        return true;
    });
    REQUIRE(scanned.size() == static_cast<std::size_t>(n));
    Store& store = f.store();
    const auto caller = std::this_thread::get_id();

    SECTION("every record, in readdir order, with its own result") {
        for (std::size_t workers : {1, 2, 8}) {
            CAPTURE(workers);
            std::atomic<int> on_caller{0};
            std::vector<std::string> taken;
            std::size_t befores = 0;
            store.scan_examined(
                ScanScope::everything, workers,
                [&](const StoredSession& record) -> ScanStep {
                    if (std::this_thread::get_id() == caller) ++on_caller;
                    std::string seen = record.key + ":" + std::to_string(record.data.size());
                    return [&, seen](const StoredSession& same) {
                        CHECK(std::this_thread::get_id() == caller);
                        CHECK(seen == same.key + ":" + std::to_string(same.data.size()));
                        taken.push_back(same.key);
                        return true;
                    };
                },
                [&] {
                    ++befores;
                    return true;
                });
            CHECK(on_caller == 0);  // all on workers
            CHECK(taken == scanned);
            CHECK(befores == scanned.size());  // once per record, not per directory entry
        }
    }
    SECTION("before and a step stop the scan; what before let through is taken") {
        std::size_t befores = 0, taken = 0;
        auto keep = [&](const StoredSession&) -> ScanStep {
            return [&](const StoredSession&) {
                ++taken;
                return true;
            };
        };
        store.scan_examined(ScanScope::key_and_data, 4, keep, [&] { return ++befores <= 1000; });
        CHECK(befores == 1001);
        CHECK(taken == 1000);

        taken = 0;
        store.scan_examined(
            ScanScope::everything, 4,
            [&](const StoredSession&) -> ScanStep { return [&](const StoredSession&) { return ++taken < 300; }; }, {});
        CHECK(taken == 300);
    }
    SECTION("what examine threw is raised in its record's turn") {
        std::vector<std::string> taken;
        std::size_t befores = 0;
        auto examine = [&](const StoredSession& record) -> ScanStep {
            if (record.key == scanned[1234] || record.key == scanned[2000])
                throw std::runtime_error("bad " + record.key);
            return [&](const StoredSession& same) {
                taken.push_back(same.key);
                return true;
            };
        };
        CHECK_THROWS_WITH(store.scan_examined(ScanScope::everything, 4, examine,
                                              [&] {
                                                  ++befores;
                                                  return true;
                                              }),
                          "bad " + scanned[1234]);
        CHECK(taken == std::vector<std::string>(scanned.begin(), scanned.begin() + 1234));
        CHECK(befores == 1235);  // `before` ran for it, as in a sequential scan
    }
    CHECK(f.warnings().empty());
}

TEST_CASE("scan_examined reports unreadable files in order and skips them", "[file]") {
    Fixture f;
    std::string live = f.saved(PyDict{{"k", "v"}});
    const std::string big = "sessionid" + std::string(32, 'b');
    f.put(big, "x");
    REQUIRE(::truncate((f.dir() / big).c_str(), (std::int64_t{64} << 20) + 1) == 0);
    std::vector<std::string> taken;
    f.store().scan_examined(ScanScope::everything, 2,
                            [&](const StoredSession&) -> ScanStep {
                                return [&](const StoredSession& record) {
                                    taken.push_back(record.key);
                                    return true;
                                };
                            },
                            {});
    CHECK(taken == std::vector<std::string>{live});
    REQUIRE(f.warnings().size() == 1);
    CHECK(f.warnings()[0].find(big + ": ") != std::string::npos);
    CHECK(f.warnings()[0].find("too large for a session file; skipped") != std::string::npos);
}

TEST_CASE("a sweep leaves no aside name behind and puts a rewritten session back under its own name", "[file]") {
    Setup setup;
    SECTION("default prefix") {}
    SECTION("a prefix the aside name starts with") { setup.prefix = ".s"; }
    Fixture f(setup);
    std::string rewritten_key(32, 'r'), stale_key(32, 's');
    std::string name = setup.prefix + rewritten_key;
    f.put(name, f.encode(PyDict{{"k", "stale"}}), -(kAge + 10));
    f.put(setup.prefix + stale_key, f.encode(PyDict{{"k", "stale"}}), -(kAge + 10));
    std::string rewritten = f.encode(PyDict{{"k", "rewritten"}});
    f.store().set_test_hooks({[&](const std::string& n) {
                                  if (n == name) f.rewrite_like_django(n, rewritten);
                              },
                              {}});
    BulkResult result = f.store().clear_expired(DryRun::no, true);
    CHECK(result.matched == 2);
    CHECK(result.keys == std::vector<std::string>{stale_key});
    CHECK(f.listing() == std::vector<std::string>{name});
    CHECK(f.read(name) == rewritten);
    CHECK(f.warnings().empty());

    // remove() goes through the same check
    f.store().set_test_hooks({});
    auto record = f.store().fetch(rewritten_key);
    REQUIRE(record);
    BulkResult removed = f.store().remove({*record}, true);
    CHECK(removed.removed == 1);
    CHECK(f.listing().empty());
}

TEST_CASE("is_expired decides a scanned record from its expire_date as a fresh judgement would", "[file]") {
    Fixture f;
    std::string plain = f.saved(PyDict{{"k", "v"}});
    std::string iso_past = f.saved(PyDict{{"_session_expiry", "2023-11-14T00:00:00+00:00"}});
    std::string iso_naive = f.saved(PyDict{{"_session_expiry", "2023-11-14T00:00:00"}});
    std::string int_expiry = f.saved(PyDict{{"_session_expiry", 60}});
    std::string negative = f.saved(PyDict{{"_session_expiry", -1}});
    f.set_mtime("sessionid" + plain, -(kAge + 1));
    f.set_mtime("sessionid" + int_expiry, -(kAge + 100));
    struct Want {
        bool expired;
        bool has_date;
    };
    std::map<std::string, Want> want{{plain, {true, true}},
                                     {iso_past, {true, true}},
                                     {iso_naive, {false, true}},  // TypeError in Django: never swept
                                     {int_expiry, {false, false}},
                                     {negative, {true, false}}};
    for (const auto& [key, w] : want) {
        CAPTURE(key);
        auto record = f.store().fetch(key);
        REQUIRE(record);
        CHECK(record->expire_date.has_value() == w.has_date);
        CHECK(f.store().is_expired(*record, f.env().now()) == w.expired);
    }
    BulkResult dry = f.store().clear_expired(DryRun::yes, true);
    CHECK(std::set<std::string>(dry.keys.begin(), dry.keys.end()) == std::set<std::string>{plain, iso_past, negative});
}

TEST_CASE("an _session_expiry hidden by escapes, compression or the pre-3.1 format still decides expiry", "[file]") {
    // The sweep skips the full decode when no payload can name _session_expiry;
    // every way of naming it must still be seen.
    Fixture f;
    const SessionCodec& codec = *f.env().codec;
    std::int64_t ts = f.clock().now_seconds();
    std::string big(400, 'x');  // long enough for encode() to compress
    struct Case {
        const char* label;
        std::string content;
        bool expired;
    };
    std::vector<Case> cases{
        {"escaped key, int expiry", codec.encode_json(R"({"\u005fsession_expiry":3600})", ts), false},
        {"compressed, int expiry", f.encode(PyDict{{"_session_expiry", 3600}, {"pad", big}}), false},
        {"pre-3.1 format, int expiry", codec.encode_legacy(PyValue(PyDict{{"_session_expiry", 3600}})), false},
        {"key only in a value", f.encode(PyDict{{"note", "_session_expiry"}}), true},
        {"compressed, no expiry", f.encode(PyDict{{"pad", big}}), true},
        {"not JSON text", codec.encode_json(R"(["a"])", ts), true},
        {"tampered", f.encode(PyDict{{"_session_expiry", 3600}}) + "x", true},
    };
    std::set<std::string> want_expired;
    for (std::size_t i = 0; i < cases.size(); ++i) {
        std::string key = fmt::format("{:032d}", i);
        f.put("sessionid" + key, cases[i].content, -(kAge + 10));
        if (cases[i].expired) want_expired.insert(key);
    }
    REQUIRE(f.read("sessionid" + fmt::format("{:032d}", 1)).rfind('.', 0) == 0);  // really compressed
    for (std::size_t i = 0; i < cases.size(); ++i) {
        CAPTURE(cases[i].label);
        auto record = f.store().fetch(fmt::format("{:032d}", i));
        REQUIRE(record);
        CHECK(f.store().is_expired(*record, f.env().now()) == cases[i].expired);
        CHECK(record->expire_date.has_value() == cases[i].expired);  // mtime + age, or none for an int
    }
    BulkResult dry = f.store().clear_expired(DryRun::yes, true);
    CHECK(std::set<std::string>(dry.keys.begin(), dry.keys.end()) == want_expired);
}

TEST_CASE("stale _out_ temporary files are listed and removed only when a day old", "[file]") {
    Fixture f;
    const std::string old_temp = "sessionid" + std::string(32, 'a') + "_out_k3j9x2a1";
    const std::string young_temp = "sessionid" + std::string(32, 'b') + "_out_zz_9x2a1";
    const std::string session = "sessionid" + std::string(32, 'c');
    const std::string lookalike = "sessionid" + std::string(32, 'd') + "_out_short";  // not mkstemp's 8 characters
    const std::string other_prefix = "csrftoken" + std::string(32, 'e') + "_out_k3j9x2a1";
    f.put(old_temp, "half a session", -(FileStore::kStaleTempAge + 5));
    f.put(young_temp, "being written", -(FileStore::kStaleTempAge - 5));
    f.put(session, f.encode(PyDict{{"k", "v"}}), -(FileStore::kStaleTempAge + 5));
    f.put(lookalike, "x", -(FileStore::kStaleTempAge * 3));
    f.put(other_prefix, "x", -(FileStore::kStaleTempAge * 3));
    fs::create_symlink(f.dir() / old_temp, f.dir() / ("sessionid" + std::string(32, 'f') + "_out_aaaaaaaa"));

    std::vector<FileStore::TempFile> listed;
    f.store().scan_stale_temp_files(FileStore::kStaleTempAge, [&](const FileStore::TempFile& t) {
        listed.push_back(t);
        return true;
    });
    REQUIRE(listed.size() == 1);
    CHECK(listed[0].name == old_temp);
    CHECK(listed[0].age_seconds == FileStore::kStaleTempAge + 5);
    CHECK(listed[0].size == std::string("half a session").size());

    BulkResult dry = f.store().remove_stale_temp_files(FileStore::kStaleTempAge, DryRun::yes, true);
    CHECK((dry.matched == 1 && dry.removed == 0));
    CHECK(dry.keys == std::vector<std::string>{old_temp});
    CHECK(f.has(old_temp));

    BulkResult done = f.store().remove_stale_temp_files(FileStore::kStaleTempAge, DryRun::no, true);
    CHECK((done.matched == 1 && done.removed == 1));
    CHECK_FALSE(f.has(old_temp));
    for (const auto& kept : {young_temp, session, lookalike, other_prefix}) CHECK(f.has(kept));
    CHECK(f.warnings().empty());
}

TEST_CASE("the Store's stale leftovers are the file engine's day-old temporary files", "[file]") {
    Fixture f;
    Store& store = f.store();
    const std::string old_temp = "sessionid" + std::string(32, 'a') + "_out_k3j9x2a1";
    const std::string older_temp = "sessionid" + std::string(32, 'b') + "_out_zzzzzzzz";
    const std::string young_temp = "sessionid" + std::string(32, 'c') + "_out_k3j9x2a1";
    f.put(young_temp, "being written", -(FileStore::kStaleTempAge - 5));

    CHECK(store.has_leftovers());
    std::optional<StaleLeftovers> none = store.stale_leftovers();
    REQUIRE(none);  // the engine has such files, there are none yet
    CHECK((none->count == 0 && none->bytes == 0));

    f.put(old_temp, "half a session", -(FileStore::kStaleTempAge + 5));
    f.put(older_temp, "half", -(FileStore::kStaleTempAge * 3));
    std::optional<StaleLeftovers> found = store.stale_leftovers();
    REQUIRE(found);
    CHECK(found->count == 2);
    CHECK(found->bytes == std::string("half a session").size() + std::string("half").size());
    CHECK(found->where == f.store().directory());

    std::optional<BulkResult> dry = store.remove_stale_leftovers(DryRun::yes, true);
    REQUIRE(dry);
    CHECK((dry->matched == 2 && dry->removed == 0));
    CHECK(std::set<std::string>(dry->keys.begin(), dry->keys.end()) == std::set<std::string>{old_temp, older_temp});
    CHECK((f.has(old_temp) && f.has(older_temp)));

    std::optional<BulkResult> done = store.remove_stale_leftovers(DryRun::no, false);
    REQUIRE(done);
    CHECK((done->matched == 2 && done->removed == 2));
    CHECK(done->keys.empty());
    CHECK_FALSE(f.has(old_temp));
    CHECK_FALSE(f.has(older_temp));
    CHECK(f.has(young_temp));
    CHECK(store.stale_leftovers()->count == 0);
    CHECK(f.warnings().empty());
}

TEST_CASE("the stale leftovers of a read-only file store are listed but not removed", "[file]") {
    Setup setup;
    setup.read_only = true;
    Fixture f(setup);
    const std::string old_temp = "sessionid" + std::string(32, 'a') + "_out_k3j9x2a1";
    f.put(old_temp, "half a session", -(FileStore::kStaleTempAge + 5));
    CHECK(f.store().stale_leftovers()->count == 1);
    CHECK(f.store().remove_stale_leftovers(DryRun::yes, false)->matched == 1);
    CHECK_THROWS_AS(f.store().remove_stale_leftovers(DryRun::no, false), StoreError);
    CHECK(f.has(old_temp));
}
