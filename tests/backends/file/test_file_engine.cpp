// The file engine (django.contrib.sessions.backends.file): Django's
// SessionTestsMixin behaviours and FileSessionTests, the file_backend.json
// vectors of both Django versions, and what sessionctl adds (never follow a
// symlink, report and go on, re-check before unlink). Each test works in a
// fresh temporary directory; time comes from a FakeClock and file mtimes are
// set with utimensat, so no test sleeps.

#include <catch2/catch.hpp>

#include "tests/backends/file/file_store_fixture.hpp"

namespace fs = std::filesystem;
using namespace sessionctl;
using namespace sessionctl::file_test;

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
