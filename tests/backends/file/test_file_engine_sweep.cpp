// The file engine, continued: scans, sweeps and what sessionctl adds beside a
// live site (symbolic links never followed, warnings that go on, re-checks
// before unlink, stale temporary files). Fixture: file_store_fixture.hpp.

#include <catch2/catch.hpp>

#include "tests/backends/file/file_store_fixture.hpp"

namespace fs = std::filesystem;
using namespace sessionctl;
using namespace sessionctl::file_test;

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
