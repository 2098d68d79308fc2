// cached_db's cache half as a store of its own (CachedDbStore::cache_copies):
// Django's load() reads the cache first, so a cached copy whose row is gone is
// a live session; inspect and delete --user/--where find such copies through
// this view. On the shared Redis (SESSIONCTL_TEST_REDIS, [redis]) and
// memcached (SESSIONCTL_TEST_MEMCACHED, [memcached]); skipped without them
// unless SESSIONCTL_REQUIRE_SERVERS=1.

#include <catch2/catch.hpp>

#include "tests/support/cache_test_support.hpp"
#include "tests/support/server_support.hpp"
#include "tests/support/test_support.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "backends/cache/cache_engine.hpp"
#include "backends/cache/cache_target.hpp"
#include "backends/cached_db_engine.hpp"
#include "backends/memcached/memcached_client.hpp"
#include "backends/redis/redis_client.hpp"
#include "backends/sqlite/sqlite_table.hpp"
#include "core/clock.hpp"

using namespace sessionctl;
using nlohmann::json;

namespace {

std::string unique_prefix() {
    static std::mt19937_64 rng(std::random_device{}());
    return fmt::format("sct-copies-{}x{:x}", getpid(), rng() & 0xffffffffu);
}

std::vector<StoredSession> scan_all(Store& store) {
    std::vector<StoredSession> all;
    store.scan_key_and_data([&](const StoredSession& r) {
        all.push_back(r);
        return true;
    });
    std::sort(all.begin(), all.end(), [](const auto& a, const auto& b) { return a.key < b.key; });
    return all;
}

std::vector<std::string> keys_of(const std::vector<StoredSession>& records) {
    std::vector<std::string> keys;
    for (const auto& r : records) keys.push_back(r.key);
    std::sort(keys.begin(), keys.end());
    return keys;
}

void copies_contract(const testing::CacheServer& server) {
    sessionctl::testing::TempDir dir("sessionctl-cached-db-copies");
    const std::string prefix = unique_prefix();
    auto env = SessionEnvironment::make(SessionSettings{}, SecretKeys{"secret-for-tests-copies", {}},
                                        std::make_shared<FakeClock>(1700000000000000));
    SqliteOptions so;
    so.create_if_missing = true;
    auto db = std::make_unique<DbStore>(env, open_sqlite_table(dir.file("db.sqlite3"), so));
    CachedDbStore store(env, std::move(db), server.open(prefix));

    auto save = [&](const char* user) {
        auto s = store.open(std::nullopt);
        s->set("_auth_user_id", PyValue(user));
        s->save();
        return *s->session_key();
    };
    const std::string orphan7 = save("7"), row7 = save("7"), orphan8 = save("8");
    store.db().table().erase(orphan7);
    store.db().table().erase(orphan8);
    // A cache-engine session under the same KEY_PREFIX is not a cached_db copy.
    CacheStore cache_engine(env, server.open(prefix));
    auto other = cache_engine.open(std::nullopt);
    other->set("_auth_user_id", PyValue("7"));
    other->save();

    CHECK(store.cache_copies().cache_key(orphan7) == store.cache_key(orphan7));
    // The copies reach the CLI through the Store interface's shadow hook.
    REQUIRE(store.shadow_records() == &store.cache_copies());
    std::vector<StoredSession> copies = scan_all(*store.shadow_records());
    std::vector<std::string> expected{orphan7, row7, orphan8};
    std::sort(expected.begin(), expected.end());
    REQUIRE(keys_of(copies) == expected);  // session keys, cached_db prefix only
    for (const auto& c : copies) {
        DecodeResult d = store.cache_copies().decode_record(c);
        REQUIRE(d.ok());
        CHECK(d.data.as_dict().find("_auth_user_id") != nullptr);
    }
    CHECK(store.has_main_record(row7));
    CHECK_FALSE(store.has_main_record(orphan7));

    std::vector<StoreMessage> messages = store.take_messages();
    if (server.exact_listing) {
        CHECK(messages.empty());
    } else {
        REQUIRE(messages.size() == 1);
        CHECK(messages[0].level == StoreMessage::Level::warning);
        CHECK(messages[0].text.find("best-effort") != std::string::npos);
        CHECK(messages[0].text.find("cannot list its keys") != std::string::npos);
        CHECK(store.take_messages().empty());  // said once
    }

    std::vector<StoredSession> rowless = copies;
    std::erase_if(rowless, [&](const StoredSession& c) { return store.has_main_record(c.key); });
    std::vector<std::string> rowless_expected{orphan7, orphan8};
    std::sort(rowless_expected.begin(), rowless_expected.end());
    CHECK(keys_of(rowless) == rowless_expected);

    SECTION("a copy rewritten after it was read is kept; the others are removed") {
        // A request rewrote orphan8's copy meanwhile.
        store.client().set(store.cache_key(orphan8), "I.", 0, 600);
        BulkResult r = store.cache_copies().remove(rowless, /*want_keys=*/true);
        CHECK(r.matched == 2);
        CHECK(r.removed == 1);
        CHECK(r.keys == std::vector<std::string>{orphan7});
        CHECK_FALSE(store.client().get(store.cache_key(orphan7)));
        CHECK(store.client().get(store.cache_key(orphan8)));
        CHECK(store.open(orphan7)->keys().empty());  // Django would no longer serve it
    }
    SECTION("has_main_record asks the table now, whatever the scan read") {
        store.db().table().erase(row7);
        CHECK_FALSE(store.has_main_record(row7));
        auto again = store.open(std::nullopt);
        again->save();
        CHECK(store.has_main_record(*again->session_key()));
        store.client().remove(store.cache_key(*again->session_key()));
    }
    for (const auto& k : expected) store.client().remove(store.cache_key(k));
    cache_engine.client().remove(cache_engine.cache_key(*other->session_key()));
}

}  // namespace

TEST_CASE("cached_db on Redis: cache copies without a row are listed, matched, removed if unchanged",
          "[cache][redis]") {
    auto url = testing::shared_server("SESSIONCTL_TEST_REDIS", "Redis");
    if (!url) return;
    copies_contract(testing::redis_server(*url));
}

TEST_CASE("cached_db on memcached: cache copies without a row are listed (best effort, said so)",
          "[cache][memcached]") {
    auto location = testing::shared_server("SESSIONCTL_TEST_MEMCACHED", "memcached");
    if (!location) return;
    copies_contract(testing::memcached_server(*location));
}
