// The cache and cached_db engines: URL/config parsing, key function and value
// codec (no server), then the store contract on the shared Redis
// (SESSIONCTL_TEST_REDIS, tag [redis]) and memcached (SESSIONCTL_TEST_MEMCACHED,
// tag [memcached]); each is skipped without its server unless
// SESSIONCTL_REQUIRE_SERVERS=1. Last, fault tests on a private redis-server this
// test starts and kills.

#include <catch2/catch.hpp>

#include "tests/support/cache_test_support.hpp"
#include "tests/support/private_redis.hpp"
#include "tests/support/server_support.hpp"
#include "tests/support/test_support.hpp"
#include "tests/support/vector_support.hpp"

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "backends/cache/cache_codec.hpp"
#include "backends/cache/cache_engine.hpp"
#include "backends/cache/cache_target.hpp"
#include "backends/cached_db_engine.hpp"
#include "backends/memcached/memcached_client.hpp"
#include "backends/redis/redis_client.hpp"
#include "backends/signed_cookies_engine.hpp"
#include "backends/sqlite/sqlite_table.hpp"
#include "core/clock.hpp"
#include "core/config.hpp"
#include "core/errors.hpp"
#include "core/pickle_codec.hpp"
#include "core/session_key.hpp"
#include "core/url_redact.hpp"
#include "core/zlib_codec.hpp"

using namespace sessionctl;
using namespace sessionctl::testing;
using nlohmann::json;

namespace {

constexpr std::int64_t kNowMicros = 1700000000750000;

std::optional<std::string> shared_redis() { return testing::shared_server("SESSIONCTL_TEST_REDIS", "Redis"); }
std::optional<std::string> shared_memcached() {
    return testing::shared_server("SESSIONCTL_TEST_MEMCACHED", "memcached");
}

// A KEY_PREFIX no other test or run uses; with glob characters on purpose, so
// SCAN MATCH escaping is exercised everywhere.
std::string unique_prefix(const std::string& tag) {
    static std::mt19937_64 rng(std::random_device{}());
    return fmt::format("sct*[{}]?{}x{:x}", tag, getpid(), rng() & 0xffffffffu);
}

std::shared_ptr<const SessionEnvironment> make_env(std::shared_ptr<FakeClock> clock) {
    return SessionEnvironment::make(SessionSettings{}, SecretKeys{"secret-for-tests-cache", {}}, std::move(clock));
}

}  // namespace

// ---- no server

TEST_CASE("redis LOCATION URLs parse as redis-py reads them, passwords never shown", "[cache]") {
    RedisEndpoint a = parse_redis_url("redis://127.0.0.1:6391/2");
    CHECK(a.host == "127.0.0.1");
    CHECK(a.port == 6391);
    CHECK(a.db == 2);
    CHECK_FALSE(a.password);

    RedisEndpoint b = parse_redis_url("redis://alice:p%40ss%3Aw@cache.example:7000/5");
    CHECK(b.username == "alice");
    CHECK(b.password == "p@ss:w");
    CHECK(b.host == "cache.example");
    CHECK(b.port == 7000);
    CHECK(b.db == 5);
    CHECK(b.description() == "redis://alice:********@cache.example:7000/5");

    RedisEndpoint c = parse_redis_url("redis://:s3cret@localhost");
    CHECK(c.password == "s3cret");
    CHECK(c.port == 6379);
    CHECK(c.db == 0);
    CHECK(c.description().find("s3cret") == std::string::npos);

    RedisEndpoint u = parse_redis_url("unix:///run/redis/redis.sock?db=3");
    CHECK(u.unix_path == "/run/redis/redis.sock");
    CHECK(u.db == 3);
    CHECK(u.description() == "unix:///run/redis/redis.sock?db=3");

    CHECK(parse_redis_url("rediss://h:1/0").tls.enabled);
    CHECK_THROWS_AS(parse_redis_url("memcached://h"), ConfigError);
    CHECK_THROWS_AS(parse_redis_url("redis://h:notaport/0"), ConfigError);
    try {
        (void)parse_redis_url("redis://u:topsecret@h:xx/0");
        FAIL("accepted a bad port");
    } catch (const ConfigError& e) {
        CHECK(std::string(e.what()).find("topsecret") == std::string::npos);
    }
}

TEST_CASE("CACHES OPTIONS: RedisCache and django-redis spellings, first LOCATION", "[cache]") {
    json dj = {{"BACKEND", "django_redis.cache.RedisCache"},
               {"LOCATION", json::array({"redis://10.0.0.1:6380/1", "redis://10.0.0.2:6380/1"})},
               {"OPTIONS", {{"PASSWORD", "pw"}, {"SOCKET_CONNECT_TIMEOUT", 0.5}, {"SOCKET_TIMEOUT", 3}}}};
    RedisEndpoint e = redis_endpoint_from_cache_config(dj);
    CHECK(e.host == "10.0.0.1");
    CHECK(e.password == "pw");
    CHECK(e.connect_timeout.count() == 500);
    CHECK(e.command_timeout.count() == 3000);

    json rc = {{"BACKEND", "django.core.cache.backends.redis.RedisCache"},
               {"LOCATION", "redis://a:1/0;redis://b:2/0"},
               {"OPTIONS", {{"db", 4}, {"password", "x"}, {"username", "bob"}}}};
    RedisEndpoint r = redis_endpoint_from_cache_config(rc);
    CHECK(r.host == "a");
    CHECK(r.db == 4);
    CHECK(r.username == "bob");
    CHECK(r.description() == "redis://bob:********@a:1/4");
}

TEST_CASE("redact_url hides only the password", "[cache]") {
    CHECK(redact_url("redis://user:pw@host:6379/0") == "redis://user:********@host:6379/0");
    CHECK(redact_url("redis://:p@w@host/0") == "redis://:********@host/0");
    CHECK(redact_url("redis://host:6379/0") == "redis://host:6379/0");
    CHECK(redact_url("plain text") == "plain text");
}

TEST_CASE("cache keys: Django's default key function, vectors cache_keys", "[cache][vectors]") {
    for (const auto* dir : {&vectors::version_3_2(), &vectors::version_6_1()}) {
        const auto& doc = vectors::load(*dir, "cache.json");
        std::size_t n = 0;
        for (const auto& item : doc["cache_keys"]) {
            CacheTarget t = cache_target_settings(item["cache_settings"]);
            std::string prefix =
                item["engine"] == "cache" ? std::string(kCacheKeyPrefix) : std::string(kCachedDbKeyPrefix);
            CHECK(t.make_key(prefix + item["session_key"].get<std::string>()) == item["full_key"].get<std::string>());
            ++n;
        }
        CHECK(n >= 4);
    }
    CHECK_THROWS_AS(cache_target_settings(json{{"KEY_FUNCTION", "myapp.keys.make_key"}}), ConfigError);
    CHECK(cache_target_settings(json{{"VERSION", "v9"}}).make_key("k") == ":v9:k");
}

TEST_CASE("cache values: Redis and memcached codecs, vectors' Redis values", "[cache][vectors]") {
    const auto& doc = vectors::load(vectors::version_6_1(), "cache.json");
    std::size_t n = 0;
    for (const auto& item : doc["redis"]) {
        if (!item.contains("value_hex") || item["value_hex"].is_null()) continue;
        std::string bytes = vectors::from_hex(item["value_hex"].get<std::string>());
        StoredSession record{"k", bytes, std::nullopt};
        DecodeResult r = decode_cache_record(CacheFamily::redis, record);
        INFO(item.value("payload", item.value("expiry_case", "")));
        REQUIRE(r.ok());
        CHECK(r.verified);
        CHECK(r.data.is_dict());
        CHECK(r.verified_with().empty());
        CHECK(std::string(r.format_name()) == "pickle");
        ++n;
    }
    CHECK(n >= 15);

    CHECK(decode_cache_value(CacheFamily::redis, "42", 0) == PyValue(std::int64_t{42}));
    PyDict d;
    d.set("foo", PyValue("bar"));
    EncodedCacheValue redis = encode_cache_value(CacheFamily::redis, PyValue(d));
    CHECK(redis.flags == 0);
    CHECK(vectors::hex_of(redis.bytes) == "80059510000000000000007d948c03666f6f948c0362617294732e");
    EncodedCacheValue mc = encode_cache_value(CacheFamily::memcached, PyValue(d));
    CHECK(mc.flags == 1);
    CHECK(decode_cache_value(CacheFamily::memcached, zlib_compress(mc.bytes), 9) == PyValue(d));
    CHECK(decode_cache_value(CacheFamily::memcached, "abc", 16) == PyValue("abc"));
    CHECK_THROWS_AS(decode_cache_value(CacheFamily::memcached, "abc", 64), StoreCorrupt);

    // A hostile pickle is refused, reported as malformed, never run.
    // pickle.dumps of an object whose __reduce__ is (os.system, ("true",)).
    std::string evil =
        vectors::from_hex("8004951f000000000000008c05706f736978948c0673797374656d9493948c047472756594859452942e");
    DecodeResult bad = decode_cache_record(CacheFamily::redis, StoredSession{"k", evil, std::nullopt});
    CHECK_FALSE(bad.ok());
    CHECK(bad.malformed_part == "pickle");
    CHECK(bad.error.find("posix.system") != std::string::npos);
}

TEST_CASE("cache timeouts: int(get_expiry_age()) as the cache backends take it", "[cache]") {
    CHECK(cache_timeout_seconds(PyValue(std::int64_t{300})) == 300);
    CHECK(cache_timeout_seconds(PyValue(10.9)) == 10);
    CHECK(cache_timeout_seconds(PyValue(-0.5)) == 0);
    CHECK(cache_timeout_seconds(PyValue(true)) == 1);
    CHECK_THROWS_AS(cache_timeout_seconds(PyValue("x")), SessionError);
}

TEST_CASE("memcached backends are selected only when built", "[cache]") {
    Config config = Config::defaults();
    // LocMemCache (Django's default CACHES) is per process: refused with a reason.
    try {
        (void)open_cache_target(config);
        FAIL("opened LocMemCache");
    } catch (const ConfigError& e) {
        CHECK(std::string(e.what()).find("inside each Django process") != std::string::npos);
    }
}

// ---- shared Redis and memcached

namespace {

struct CacheFixture {
    CacheServer server;
    std::string prefix;
    std::shared_ptr<FakeClock> clock = std::make_shared<FakeClock>(kNowMicros);
    std::shared_ptr<const SessionEnvironment> env = make_env(clock);

    explicit CacheFixture(CacheServer s) : server(std::move(s)), prefix(unique_prefix("c")) {}
    ~CacheFixture() {
        try {
            auto store = open_store();
            std::vector<StoredSession> all;
            store->scan([&](const StoredSession& r) {
                all.push_back(r);
                return true;
            });
            (void)store->remove(all, false);
        } catch (...) {
        }
    }
    std::unique_ptr<CacheStore> open_store(const std::string& key_prefix) {
        return std::make_unique<CacheStore>(env, server.open(key_prefix));
    }
    std::unique_ptr<CacheStore> open_store() { return open_store(prefix); }
};

std::vector<std::string> scanned_keys(Store& store) {
    std::vector<std::string> keys;
    store.scan([&](const StoredSession& r) {
        keys.push_back(r.key);
        return true;
    });
    std::sort(keys.begin(), keys.end());
    return keys;
}

// The contract every cache server keeps (run below on Redis and memcached);
// where memcached differs, the difference is spelled out.
void cache_store_contract(CacheFixture& fx) {
    const bool memcached = fx.server.family == CacheFamily::memcached;
    INFO("cache server: " << fx.server.name);
    auto store = fx.open_store();

    SECTION("a saved session loads in a fresh session; TTL is get_expiry_age()") {
        auto s = store->open(std::nullopt);
        s->set("foo", PyValue("bar"));
        s->set_expiry(std::int64_t{300});
        s->save();
        REQUIRE(s->session_key());
        CHECK(s->session_key()->size() == 32);
        auto other = fx.open_store();
        auto fresh = other->open(*s->session_key());
        CHECK(fresh->get("foo") == PyValue("bar"));
        auto rec = other->fetch(*s->session_key());
        REQUIRE(rec);
        REQUIRE(rec->expire_date);
        std::int64_t ttl = (rec->expire_date->utc_micros() - kNowMicros) / 1'000'000;
        CHECK(ttl >= 298);
        CHECK(ttl <= 300);
        CHECK_FALSE(other->is_expired(*rec, fx.env->now()));
        // The value is pickle(dict), as RedisCache and PyMemcacheCache write it
        // (pymemcache's flag 1: pickled; Redis has no flags).
        CHECK(pickle_loads(rec->data).as_dict().contains("_session_expiry"));
        CHECK(rec->flags == (memcached ? 1u : 0u));
    }

    SECTION("save(must_create) on a taken key throws CreateError and keeps the value") {
        auto s = store->open(std::nullopt);
        s->set("a", PyValue(std::int64_t{1}));
        s->save();
        auto clash = store->open(*s->session_key());
        clash->set("a", PyValue(std::int64_t{2}));
        CHECK_THROWS_AS(clash->save(true), CreateError);
        CHECK(store->open(*s->session_key())->get("a") == PyValue(std::int64_t{1}));
    }

    SECTION("saving a session deleted elsewhere throws UpdateError and does not resurrect it") {
        auto s = store->open(std::nullopt);
        s->set("a", PyValue(std::int64_t{1}));
        s->save();
        std::string key = *s->session_key();
        auto again = store->open(key);
        (void)again->get("a");
        store->open(key)->delete_session();
        again->set("a", PyValue(std::int64_t{2}));
        CHECK_THROWS_AS(again->save(), UpdateError);
        CHECK_FALSE(store->fetch(key));
    }

    SECTION("loading an unknown key returns {} and creates nothing") {
        std::string key = "nosuchkey0123456789abcdefghijklm";
        auto s = store->open(key);
        CHECK(s->keys().empty());
        CHECK_FALSE(s->session_key());
        CHECK_FALSE(store->fetch(key));
    }

    SECTION("a negative expiry makes the value vanish (RedisCache timeout 0, memcached exptime -1)") {
        auto s = store->open(std::nullopt);
        s->set("a", PyValue(std::int64_t{1}));
        s->set_expiry(std::int64_t{-5});
        // must_create with timeout 0: Redis SET NX then DEL (add returns True);
        // memcached stores it already expired.
        s->save();
        REQUIRE(s->session_key());
        CHECK_FALSE(store->fetch(*s->session_key()));
    }

    SECTION("scan lists exactly this prefix's sessions (glob characters escaped)") {
        // memcached: the metadump listing is best effort in general (items
        // written while it crawls may be missed), but with nothing writing
        // meanwhile it lists every live item, and only this prefix's.
        std::set<std::string> made;
        for (int i = 0; i < 25; ++i) {
            auto s = store->open(std::nullopt);
            s->set("i", PyValue(std::int64_t{i}));
            s->save();
            made.insert(*s->session_key());
        }
        // A neighbour whose prefix the unescaped glob would match.
        auto other = fx.open_store(fx.prefix + "x");
        auto n = other->open(std::nullopt);
        n->save();
        auto keys = scanned_keys(*store);
        CHECK(std::set<std::string>(keys.begin(), keys.end()) == made);
        CHECK(keys.size() == made.size());  // each once
        CHECK(store->listing_is_exact() == fx.server.exact_listing);
        // Said once after a scan on memcached; nothing to say on Redis.
        auto note = store->take_listing_note();
        CHECK(note.has_value() == memcached);
        if (note) CHECK(note->find("best-effort") != std::string::npos);
        CHECK_FALSE(store->take_listing_note());
        other->open(*n->session_key())->delete_session();

        int seen = 0;
        store->scan([&](const StoredSession&) { return ++seen < 3; });
        CHECK(seen == 3);

        // The key-and-data scan (delete --user) finds the same records with
        // the same bytes (Redis: MGET, no TTL lookups).
        std::map<std::string, std::string> full, lean;
        store->scan([&](const StoredSession& r) {
            full[r.key] = r.data;
            return true;
        });
        store->scan_key_and_data([&](const StoredSession& r) {
            lean[r.key] = r.data;
            return true;
        });
        CHECK(lean == full);
        CHECK(lean.size() == made.size());
        int lean_seen = 0;
        store->scan_key_and_data([&](const StoredSession&) { return ++lean_seen < 3; });
        CHECK(lean_seen == 3);
        (void)store->take_listing_note();
    }

    SECTION("remove() deletes unchanged values and keeps one rewritten meanwhile") {
        auto a = store->open(std::nullopt);
        a->set("v", PyValue(std::int64_t{1}));
        a->save();
        auto b = store->open(std::nullopt);
        b->set("v", PyValue(std::int64_t{1}));
        b->save();
        std::vector<StoredSession> records = {*store->fetch(*a->session_key()), *store->fetch(*b->session_key())};
        auto live = store->open(*b->session_key());
        live->set("v", PyValue(std::int64_t{2}));
        live->save();
        BulkResult r = store->remove(records, true);
        CHECK(r.removed == 1);
        CHECK(r.keys == std::vector<std::string>{*a->session_key()});
        CHECK_FALSE(store->fetch(*a->session_key()));
        CHECK(store->fetch(*b->session_key()));
    }

    SECTION("values are pickles, not signed session_data: the scan prefilter stays off") {
        CHECK_FALSE(store->records_are_signed_session_data());
    }

    SECTION("clear_expired is a no-op, as Django's") {
        auto s = store->open(std::nullopt);
        s->save();
        BulkResult r = store->clear_expired(DryRun::no, true);
        CHECK(r.matched == 0);
        CHECK(store->fetch(*s->session_key()));
    }

    SECTION("cycle_key and flush") {
        auto s = store->open(std::nullopt);
        s->set("x", PyValue("y"));
        s->save();
        std::string old = *s->session_key();
        s->cycle_key();
        s->save();
        CHECK_FALSE(store->fetch(old));
        CHECK(store->open(*s->session_key())->get("x") == PyValue("y"));
        std::string current = *s->session_key();
        s->flush();
        CHECK_FALSE(store->fetch(current));
        CHECK_FALSE(s->session_key());
    }
}

}  // namespace

TEST_CASE("cache engine on Redis: the store contract", "[cache][redis]") {
    auto url = shared_redis();
    if (!url) return;
    CacheFixture fx(redis_server(*url));
    cache_store_contract(fx);
}

TEST_CASE("cache engine on TLS Redis (rediss://, verified): the store contract", "[cache][redis][tls]") {
    auto url = testing::shared_server("SESSIONCTL_TEST_REDIS_TLS", "TLS Redis");
    if (!url) return;
    CacheFixture fx(redis_tls_server(*url, std::getenv("SESSIONCTL_TEST_REDIS_TLS_CERTS")));
    cache_store_contract(fx);
}

TEST_CASE("cache engine on memcached: the store contract", "[cache][memcached]") {
    auto location = shared_memcached();
    if (!location) return;
    CacheFixture fx(memcached_server(*location));
    cache_store_contract(fx);
}

namespace {

void cached_db_contract(const CacheServer& server) {
    INFO("cache server: " << server.name);
    sessionctl::testing::TempDir dir("sessionctl-cached-db");
    std::string prefix = unique_prefix("d");
    auto clock = std::make_shared<FakeClock>(kNowMicros);
    auto env = make_env(clock);
    auto open = [&] {
        SqliteOptions so;
        so.create_if_missing = true;
        auto db = std::make_unique<DbStore>(env, open_sqlite_table(dir.file("db.sqlite3"), so));
        return std::make_unique<CachedDbStore>(env, std::move(db), server.open(prefix));
    };
    auto store = open();

    auto s = store->open(std::nullopt);
    s->set("foo", PyValue("bar"));
    s->save();
    std::string key = *s->session_key();
    // Both halves hold it: the row (signed JSON) and the cache (pickled dict).
    auto row = store->fetch(key);
    REQUIRE(row);
    CHECK(store->decode_record(*row).verified_with() == "SECRET_KEY");
    auto cached = store->client().get(store->cache_key(key));
    REQUIRE(cached);
    CHECK(pickle_loads(cached->bytes).as_dict().find("foo")->as_str() == "bar");

    SECTION("load refills the cache from the row") {
        store->client().remove(store->cache_key(key));
        CHECK(open()->open(key)->get("foo") == PyValue("bar"));
        auto refilled = store->client().get(store->cache_key(key));
        REQUIRE(refilled);
        REQUIRE(refilled->ttl_seconds);
        CHECK(*refilled->ttl_seconds > 1209500);
    }
    SECTION("a cached copy is served even without the row (cache first)") {
        store->db().table().erase(key);
        CHECK(open()->open(key)->get("foo") == PyValue("bar"));
    }
    SECTION("delete removes the cache entry and the row") {
        store->open(key)->delete_session();
        CHECK_FALSE(store->fetch(key));
        CHECK_FALSE(store->client().get(store->cache_key(key)));
        CHECK(open()->open(key)->keys().empty());
    }
    SECTION("remove() of scanned records clears both halves") {
        std::vector<StoredSession> all;
        store->scan([&](const StoredSession& r) {
            all.push_back(r);
            return true;
        });
        REQUIRE(all.size() == 1);
        CHECK(store->remove(all, false).removed == 1);
        CHECK_FALSE(store->client().get(store->cache_key(key)));
    }
    SECTION("clear_expired clears the db half") {
        clock->advance_seconds(1209601);
        CHECK(store->clear_expired(DryRun::no, false).removed == 1);
        CHECK_FALSE(store->fetch(key));
    }
    SECTION("clear_expired paces the db half as asked (batches, stop)") {
        std::vector<std::string> more;
        for (int i = 0; i < 4; ++i) {
            auto extra = store->open(std::nullopt);
            extra->set("n", PyValue(std::int64_t{i}));
            extra->save();
            more.push_back(*extra->session_key());
        }
        clock->advance_seconds(1209601);
        BulkOptions options;
        options.batch_size = 1;
        options.sleep = std::chrono::milliseconds{0};
        int asked = 0;
        options.should_stop = [&] { return ++asked > 2; };
        BulkResult r = store->clear_expired(DryRun::no, false, options);
        CHECK(r.end == BulkEnd::stopped);
        CHECK(r.batches == 2);
        CHECK(r.removed == 2);
        CHECK(store->clear_expired(DryRun::no, false).removed == 3);  // a rerun finishes
        for (const auto& k : more) store->client().remove(store->cache_key(k));
    }
    store->client().remove(store->cache_key(key));
}

}  // namespace

TEST_CASE("cached_db on SQLite + Redis: cache then db, delete clears both", "[cache][redis]") {
    auto url = shared_redis();
    if (!url) return;
    cached_db_contract(redis_server(*url));
}

TEST_CASE("cached_db on SQLite + memcached: cache then db, delete clears both", "[cache][memcached]") {
    auto location = shared_memcached();
    if (!location) return;
    cached_db_contract(memcached_server(*location));
}

// ---- faults

TEST_CASE("Redis faults: wrong or missing password, server gone mid-scan", "[cache][redis][faults]") {
    if (!have_redis_server()) {
        SESSIONCTL_SKIP_OR_FAIL("redis-server is not installed");
        return;
    }
    SECTION("wrong password: StoreError naming the server, password not shown") {
        PrivateRedis server({"--requirepass", "right-password"});
        std::string url = fmt::format("redis://:wrong-password@127.0.0.1:{}", server.port());
        try {
            (void)open_redis_client(parse_redis_url(url));
            FAIL("connected with a wrong password");
        } catch (const StoreError& e) {
            std::string what = e.what();
            CHECK(what.find("wrong-password") == std::string::npos);
            CHECK(what.find("password") != std::string::npos);
        }
        CHECK_THROWS_AS(open_redis_client(parse_redis_url(server.url())), StoreError);
        auto ok =
            open_redis_client(parse_redis_url(fmt::format("redis://:right-password@127.0.0.1:{}", server.port())));
        CHECK_FALSE(ok->get("nothing"));
    }
    SECTION("nothing listening: StoreUnavailable") {
        int port = free_port();
        CHECK_THROWS_AS(open_redis_client(parse_redis_url(fmt::format("redis://127.0.0.1:{}", port))),
                        StoreUnavailable);
    }
    SECTION("server killed mid-scan: StoreUnavailable after the batches already seen") {
        PrivateRedis server;
        auto clock = std::make_shared<FakeClock>(kNowMicros);
        auto env = make_env(clock);
        json cache = {{"BACKEND", "django.core.cache.backends.redis.RedisCache"}, {"LOCATION", server.url()}};
        CacheStore store(env, open_target(cache));
        auto client = open_redis_client(parse_redis_url(server.url()));
        std::string value = encode_cache_value(CacheFamily::redis, PyValue(PyDict{})).bytes;
        for (int i = 0; i < 5000; ++i) client->set(store.cache_key(fmt::format("k{:031}", i)), value, 0, 3600);
        std::size_t seen = 0;
        try {
            store.scan([&](const StoredSession&) {
                if (++seen == 1) server.stop();
                return true;
            });
            FAIL("scan finished although the server was killed");
        } catch (const StoreUnavailable& e) {
            CHECK(std::string(e.what()).find("went away") != std::string::npos);
        }
        CHECK(seen >= 1);
        CHECK(seen < 5000);
    }
}

// ---- signed_cookies

TEST_CASE("signed_cookies: create mints a value that inspect reads; nothing to list or delete", "[cache][signed]") {
    auto clock = std::make_shared<FakeClock>(kNowMicros);
    SessionSettings settings;
    settings.cookie_age = 100;
    auto env = SessionEnvironment::make(settings, SecretKeys{"secret-for-tests-cookie", {}}, clock);
    SignedCookiesStore store(env, SecretKeys{"secret-for-tests-cookie", {}});

    auto s = store.open(std::nullopt);
    s->set("foo", PyValue("bar"));
    s->create();
    REQUIRE(s->session_key());
    std::string cookie = *s->session_key();
    CHECK_FALSE(s->exists(cookie));

    auto rec = store.fetch(cookie);
    REQUIRE(rec);
    DecodeResult r = store.decode_record(*rec);
    REQUIRE(r.ok());
    CHECK(r.verified_with() == "SECRET_KEY");
    CHECK(r.data.as_dict().find("foo")->as_str() == "bar");
    REQUIRE(rec->expire_date);
    CHECK(rec->expire_date->utc_micros() == (kNowMicros / 1'000'000 + 100) * 1'000'000);
    CHECK(store.open(cookie)->get("foo") == PyValue("bar"));

    // Valid up to and including ts + age (signed_cookie.json load_at), then not.
    clock->set((kNowMicros / 1'000'000 + 100) * 1'000'000);
    CHECK_FALSE(store.is_expired(*rec, env->now()));
    clock->set((kNowMicros / 1'000'000 + 101) * 1'000'000);
    CHECK(store.is_expired(*rec, env->now()));
    auto late = store.open(cookie);
    CHECK(late->keys().empty());

    // A cookie signed with another secret does not verify.
    SignedCookiesStore other(env, SecretKeys{"another-secret-entirely", {}});
    CHECK(other.decode_record(*rec).status == DecodeStatus::bad_signature);

    CHECK_THROWS_AS(store.scan([](const StoredSession&) { return true; }), ConfigError);
    CHECK_THROWS_AS(store.remove({*rec}, false), ConfigError);
    CHECK_THROWS_AS(store.clear_expired(DryRun::no, false), ConfigError);
    CHECK_THROWS_AS(store.open(cookie)->delete_session(cookie), ConfigError);
    try {
        (void)store.clear_expired(DryRun::no, false);
    } catch (const ConfigError& e) {
        CHECK(std::string(e.what()).find("rotating SECRET_KEY") != std::string::npos);
    }
}

TEST_CASE("Redis scans stopped early leave the connection in step, with and without TTLs", "[cache][redis]") {
    if (!have_redis_server()) {
        SESSIONCTL_SKIP_OR_FAIL("redis-server is not installed");
        return;
    }
    // Several SCAN batches, so that the requests for the next batch are in
    // flight when the visitor says stop.
    PrivateRedis server;
    auto client = open_redis_client(parse_redis_url(server.url()));
    for (int i = 0; i < 5000; ++i) client->set(fmt::format("p:{:05}", i), fmt::format("v{}", i), 0, 3600);
    client->set("other", "x", 0, 3600);
    for (auto ttl : {CacheClient::Ttl::wanted, CacheClient::Ttl::not_needed}) {
        INFO("ttl wanted: " << (ttl == CacheClient::Ttl::wanted));
        for (int stop_after : {1, 2, 3}) {
            int batches = 0;
            client->scan_prefix(
                "p:", [&](std::vector<CacheEntry>&) { return ++batches < stop_after; }, ttl);
            CHECK(batches == stop_after);
            // The next commands get their own replies, not leftovers.
            auto got = client->get("p:00042");
            REQUIRE(got);
            CHECK(got->bytes == "v42");
            CHECK_FALSE(client->get("p:missing"));
        }
        std::map<std::string, std::string> all;
        client->scan_prefix(
            "p:",
            [&](std::vector<CacheEntry>& batch) {
                for (auto& e : batch) {
                    CHECK(e.value.ttl_seconds.has_value() == (ttl == CacheClient::Ttl::wanted));
                    all[e.key] = e.value.bytes;
                }
                return true;
            },
            ttl);
        CHECK(all.size() == 5000);
        CHECK(all["p:04999"] == "v4999");
    }
}
