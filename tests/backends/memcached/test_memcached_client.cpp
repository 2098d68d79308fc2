// MemcachedClient against real memcached, with real Django 3.2 (PyMemcacheCache,
// pymemcache) as the oracle: what Django writes we read (bytes, flags, TTL),
// what we write Django reads, keys are refused as Django/pymemcache refuse
// them, several servers are placed as pymemcache's rendezvous hash places
// them, and an absent or hung server is a StoreUnavailable naming it.
//
// Server tests use SESSIONCTL_TEST_MEMCACHED (host:port); without it they skip,
// unless SESSIONCTL_REQUIRE_SERVERS=1 (CI), where they fail. Fault tests start
// a private memcached on a free port and never touch the shared one.

#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "backends/memcached/memcached_client.hpp"
#include "backends/memcached/memcached_metadump.hpp"
#include "backends/memcached/memcached_rules.hpp"
#include "core/clock.hpp"
#include "core/config.hpp"
#include "core/errors.hpp"
#include "core/pickle_codec.hpp"
#include "core/pyvalue.hpp"
#include "tests/support/server_support.hpp"
#include "tests/support/test_support.hpp"

extern char** environ;

using namespace sessionctl;
using nlohmann::json;

namespace {

const std::string kOracle = std::string(SESSIONCTL_TEST_DATA) + "/../tools/pymemcache_oracle.py";
const std::string kPyMemcache = "django.core.cache.backends.memcached.PyMemcacheCache";

std::string shell_quote(const std::string& s) {
    std::string out = "'";
    for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return out + "'";
}

// Runs the oracle with the system Django (3.2) and returns its JSON output.
json oracle(const std::string& mode, const json& config, const std::vector<std::string>& args = {}) {
    std::string cmd = "env -u PYTHONPATH PYTHONDONTWRITEBYTECODE=1 /usr/bin/python3 " + shell_quote(kOracle) + " " +
                      shell_quote(mode) + " " + shell_quote(config.dump());
    for (const auto& a : args) cmd += " " + shell_quote(a);
    FILE* p = popen(cmd.c_str(), "r");
    REQUIRE(p != nullptr);
    std::string out;
    char buf[4096];
    while (std::size_t n = fread(buf, 1, sizeof buf, p)) out.append(buf, n);
    int status = pclose(p);
    INFO("oracle " << mode << " printed: " << out);
    REQUIRE(status == 0);
    return json::parse(out);
}

std::string to_hex(std::string_view bytes) {
    std::string out;
    for (unsigned char c : bytes) out += fmt::format("{:02x}", c);
    return out;
}

// The shared test server, or nullopt (after a skip note) when there is none.
std::optional<std::string> shared_memcached() {
    return testing::shared_server("SESSIONCTL_TEST_MEMCACHED", "memcached");
}

// A key prefix no other test (or run) uses.
std::string unique_prefix(const std::string& tag) {
    static std::mt19937_64 rng(std::random_device{}());
    return fmt::format("sctest{}{}x{:x}:", tag, getpid(), rng() & 0xffffffffu);
}

bool port_accepts(int port) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    ::close(fd);
    return ok;
}

int free_port() {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    socklen_t len = sizeof addr;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    ::close(fd);
    return ntohs(addr.sin_port);
}

// memcached of this test's own, on a free loopback port; killed (by pid) at
// the end.
class PrivateMemcached {
public:
    PrivateMemcached() : port_(free_port()) {
        std::vector<std::string> argv = {"memcached", "-l", "127.0.0.1", "-p", std::to_string(port_),
                                         "-U",        "0",  "-m",        "16"};
        if (geteuid() == 0) argv.insert(argv.end(), {"-u", "nobody"});
        std::vector<char*> cargv;
        for (auto& a : argv) cargv.push_back(a.data());
        cargv.push_back(nullptr);
        REQUIRE(posix_spawnp(&pid_, "memcached", nullptr, nullptr, cargv.data(), environ) == 0);
        // Startup takes a few milliseconds; wait for the port, not a fixed time.
        for (int i = 0; i < 500 && !port_accepts(port_); ++i)
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        REQUIRE(port_accepts(port_));
    }
    ~PrivateMemcached() { stop(); }
    PrivateMemcached(const PrivateMemcached&) = delete;
    PrivateMemcached& operator=(const PrivateMemcached&) = delete;

    void stop() {
        if (pid_ <= 0) return;
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, nullptr, 0);
        pid_ = -1;
    }
    void pause() { ::kill(pid_, SIGSTOP); }
    void resume() { ::kill(pid_, SIGCONT); }
    [[nodiscard]] int port() const { return port_; }
    [[nodiscard]] std::string location() const { return fmt::format("127.0.0.1:{}", port_); }

private:
    int port_;
    pid_t pid_ = -1;
};

json cache_config(const json& location) { return {{"BACKEND", kPyMemcache}, {"LOCATION", location}}; }

std::vector<CacheEntry> scan_all(CacheClient& client, const std::string& prefix) {
    std::vector<CacheEntry> all;
    client.scan_prefix(prefix, [&](std::vector<CacheEntry>& batch) {
        for (auto& e : batch) all.push_back(std::move(e));
        return true;
    });
    return all;
}

PyValue session_dict(std::int64_t n) {
    PyDict d;
    d.set("n", PyValue(n));
    d.set("who", PyValue(std::string("sessionctl \xc3\xa9")));
    return PyValue(std::move(d));
}

}  // namespace

// ---- rules

TEST_CASE("memcached keys are refused exactly where Django and pymemcache refuse them", "[memcached]") {
    std::vector<std::string> keys = {
        "a",
        ":1:django.contrib.sessions.cacheabcdefghijklmnopqrstuvwxyz012345",
        std::string(250, 'k'),
        std::string(251, 'k'),
        "a b",
        "a\tb",
        "a\nb",
        std::string("a\0b", 3),
        "a\x7f"
        "b",
        "\xc2\xa0nbsp",  // U+00A0: allowed by both
        "cl\xc3\xa9",    // é
        [] {
            std::string s;
            for (int i = 0; i < 125; ++i) s += "\xc3\xa9";
            return s;
        }(),  // 250 bytes
        [] {
            std::string s;
            for (int i = 0; i < 126; ++i) s += "\xc3\xa9";
            return s;
        }(),  // 252 bytes
        [] {
            std::string s;
            for (int i = 0; i < 84; ++i) s += "\xe2\x82\xac";
            return s;
        }(),                 // 252 bytes
        "\xf0\x9f\x98\x80",  // emoji
    };
    std::vector<std::string> hexes;
    for (const auto& k : keys) hexes.push_back(to_hex(k));
    json refused = oracle("key_checks", cache_config("127.0.0.1:1"), hexes);
    for (std::size_t i = 0; i < keys.size(); ++i) {
        INFO("key hex " << hexes[i]);
        bool ours = memcached_key_problem(keys[i]).has_value();
        CHECK(ours == refused[hexes[i]].get<bool>());
        if (ours) CHECK_THROWS_AS(validate_memcached_key(keys[i]), InvalidSessionKey);
    }
    CHECK(memcached_key_problem("bad\xff"
                                "utf8")
              .has_value());
}

TEST_CASE("memcached exptime follows BaseMemcachedCache.get_backend_timeout", "[memcached]") {
    for (const char* version : {"django-3.2.25", "django-6.1.dev-afa026cd"}) {
        std::ifstream in(std::string(SESSIONCTL_TEST_DATA) + "/" + version + "/cache.json");
        REQUIRE(in);
        json doc = json::parse(in);
        int checked = 0;
        for (const auto& e : doc["memcached"]) {
            if (!e.contains("get_backend_timeout")) continue;
            for (const auto& [timeout, expected] : e["get_backend_timeout"].items()) {
                std::optional<std::int64_t> t;
                if (timeout != "None") t = std::stoll(timeout);
                INFO(version << " timeout " << timeout);
                CHECK(memcached_exptime(t, 1'700'000'000) == expected.get<std::int64_t>());
                ++checked;
            }
        }
        CHECK(checked >= 6);
    }
    // Over 30 days: absolute time; negative: passed on (already expired).
    CHECK(memcached_exptime(2592001, 1'700'000'000) == 1'700'000'000 + 2592001);
    CHECK(memcached_exptime(-5, 1'700'000'000) == -5);
    // On the wire a negative exptime becomes a time long past.
    CHECK(memcached_wire_exptime(-1) == kMemcachedExpiredExptime);
    CHECK(memcached_wire_exptime(300) == 300);
    CHECK(memcached_wire_exptime(0) == 0);
}

TEST_CASE("murmur3_32 and rendezvous placement equal pymemcache's", "[memcached]") {
    std::vector<std::string> texts = {"",
                                      "a",
                                      "ab",
                                      "abc",
                                      "abcd",
                                      "abcde",
                                      "127.0.0.1:11211-:1:django.contrib.sessions.cacheabc",
                                      "d\xc3\xa9j\xc3\xa0",
                                      "\xe6\xbc\xa2\xe5\xad\x97\xf0\x9f\x98\x80x"};
    json expected = oracle("murmur", json::object(), texts);
    for (std::size_t i = 0; i < texts.size(); ++i) {
        INFO("text " << texts[i]);
        CHECK(pymemcache_murmur3_32(texts[i]) == expected[i].get<std::uint32_t>());
    }

    json location = json::array({"10.0.0.1:11211", "10.0.0.2", "[::1]:11212", "unix:/run/memcached/m.sock"});
    json nodes_json = oracle("nodes", cache_config(location));
    auto servers = parse_memcached_location(location);
    std::vector<std::string> nodes;
    for (const auto& s : servers) nodes.push_back(s.node);
    CHECK(json(nodes) == nodes_json);

    std::vector<std::string> keys;
    for (int i = 0; i < 200; ++i) keys.push_back(fmt::format(":1:django.contrib.sessions.cachek{:04d}zz", i));
    keys.push_back("\xc3\xa9t\xc3\xa9:1:django.contrib.sessions.cacheabc");
    json picks = oracle("pick", cache_config(location), keys);
    std::set<std::string> used;
    for (std::size_t i = 0; i < keys.size(); ++i) {
        INFO("key " << keys[i]);
        CHECK(nodes[pymemcache_rendezvous_pick(nodes, keys[i])] == picks[i].get<std::string>());
        used.insert(picks[i].get<std::string>());
    }
    CHECK(used.size() == nodes.size());  // the sample reaches every server
}

TEST_CASE("LOCATION is read as Django and pymemcache read it", "[memcached]") {
    auto one = parse_memcached_location("127.0.0.1:11211");
    REQUIRE(one.size() == 1);
    CHECK(one[0].node == "127.0.0.1:11211");
    CHECK(one[0].display() == "127.0.0.1:11211");

    auto split = parse_memcached_location("a:1;b:2,c");
    REQUIRE(split.size() == 3);
    CHECK(split[2].node == "c:11211");
    CHECK(json(std::vector<std::string>{split[0].node, split[1].node, split[2].node}) ==
          oracle("nodes", cache_config("a:1;b:2,c")));

    auto sock = parse_memcached_location("unix:/run/mc.sock");
    CHECK(sock[0].is_socket());
    CHECK(sock[0].node == "/run/mc.sock");
    CHECK(sock[0].display() == "unix:/run/mc.sock");

    auto v6 = parse_memcached_location("[::1]:11300");
    CHECK(v6[0].host == "::1");
    CHECK(v6[0].display() == "[::1]:11300");

    CHECK(parse_memcached_location(json::array({"h:1", "h:1"})).size() == 1);
    CHECK_THROWS_AS(parse_memcached_location(""), ConfigError);
    CHECK_THROWS_AS(parse_memcached_location("host:port"), ConfigError);
    CHECK_THROWS_AS(parse_memcached_location("a:1; b:2"), ConfigError);
    CHECK_THROWS_AS(parse_memcached_location(json()), ConfigError);
    CHECK_THROWS_AS(parse_memcached_location(json::array()), ConfigError);
}

TEST_CASE("memcached CACHES OPTIONS that change stored bytes or need SASL are refused", "[memcached]") {
    json c = cache_config("127.0.0.1:11211");
    CHECK(memcached_options_from_cache_config(c).servers.size() == 1);

    c["OPTIONS"] = {{"connect_timeout", 0.25}, {"timeout", 2}, {"no_delay", true}};
    auto o = memcached_options_from_cache_config(c);
    CHECK(o.connect_timeout.count() == 250);
    CHECK(o.io_timeout.count() == 2000);

    c["OPTIONS"] = {{"key_prefix", "x"}};
    CHECK_THROWS_AS(memcached_options_from_cache_config(c), ConfigError);
    c["OPTIONS"] = {{"serde", "x"}};
    CHECK_THROWS_AS(memcached_options_from_cache_config(c), ConfigError);

    json lib = {{"BACKEND", "django.core.cache.backends.memcached.PyLibMCCache"},
                {"LOCATION", "127.0.0.1:11211"},
                {"OPTIONS", {{"username", "u"}, {"password", "hunter2-secret"}}}};
    try {
        (void)memcached_options_from_cache_config(lib);
        FAIL("SASL options were accepted");
    } catch (const ConfigError& e) {
        CHECK(std::string(e.what()).find("hunter2") == std::string::npos);
    }

    json multi = {{"BACKEND", "django.core.cache.backends.memcached.PyLibMCCache"},
                  {"LOCATION", json::array({"a:1", "b:2"})}};
    const auto pylibmc = memcached_options_from_cache_config(multi);
    CHECK(pylibmc.servers.size() == 2);
    CHECK(pylibmc.pylibmc_servers.size() == 2);
    multi["BACKEND"] = "django.core.cache.backends.memcached.MemcachedCache";
    CHECK_THROWS_WITH(memcached_options_from_cache_config(multi), Catch::Contains("python-memcached"));
    multi["BACKEND"] = kPyMemcache;
    CHECK(memcached_options_from_cache_config(multi).servers.size() == 2);
    CHECK_THROWS_AS(memcached_options_from_cache_config({{"BACKEND", "x.y.RedisCache"}, {"LOCATION", "a"}}),
                    ConfigError);
}

TEST_CASE("PyLibMCCache: LOCATION and behaviors as pylibmc reads them", "[memcached]") {
    // pylibmc.client.translate_server_spec, after Django's client_servers.
    auto servers = pylibmc_servers("mc1:11311:3;unix:/run/mc.sock,[::1]:11212,localhost,[::1]");
    REQUIRE(servers.size() == 5);
    CHECK((servers[0].host == "mc1" && servers[0].port == 11311 && servers[0].weight == 3));
    CHECK((servers[1].unix_socket && servers[1].host == "/run/mc.sock" && servers[1].port == 0));
    CHECK((servers[2].host == "::1" && servers[2].port == 11212 && servers[2].weight == 1));
    CHECK((servers[3].host == "localhost" && servers[3].port == 11211));
    CHECK((servers[4].host == "::1" && servers[4].port == 11211));
    CHECK(pylibmc_servers(json::array({"a:1", "a:1"})).size() == 2);  // pylibmc adds both
    CHECK_THROWS_AS(pylibmc_servers("udp:mc1:11211"), ConfigError);
    CHECK_THROWS_AS(pylibmc_servers("mc1:port"), ConfigError);
    CHECK_THROWS_AS(pylibmc_servers("mc1:11211:heavy"), ConfigError);

    // Placement behaviors in pylibmc's order, names translated; the rest dropped.
    auto behaviors = pylibmc_placement_behaviors(
        json{{"distribution", "consistent ketama"}, {"tcp_nodelay", true}, {"hash", "md5"}, {"ketama", true}});
    REQUIRE(behaviors.size() == 3);
    CHECK(behaviors[0].name == "hash");
    CHECK(behaviors[1].name == "ketama");
    CHECK(behaviors[2].name == "distribution");
    CHECK(behaviors[1].value == 1);
    CHECK_THROWS_WITH(pylibmc_placement_behaviors(json{{"ketamaa", true}}), Catch::Contains("unknown behavior"));
    CHECK_THROWS_WITH(pylibmc_placement_behaviors(json{{"namespace", "x"}}), Catch::Contains("namespace"));
    CHECK_THROWS_WITH(pylibmc_placement_behaviors(json{{"num_replicas", 1}}), Catch::Contains("num_replicas"));
    CHECK_THROWS_WITH(pylibmc_placement_behaviors(json{{"distribution", "random"}}), Catch::Contains("random"));
    CHECK_THROWS_AS(pylibmc_placement_behaviors(json{{"hash", "sha256"}}), ConfigError);
    CHECK(pylibmc_placement_behaviors(json{{"num_replicas", 0}, {"_retry_timeout", 3}}).empty());
}

TEST_CASE("metadump lines are decoded", "[memcached]") {
    auto item = parse_metadump_line("key=a%C3%A9b%20c exp=1795642827 la=1795642727 cas=4 fetch=yes cls=1 size=65");
    REQUIRE(item);
    CHECK(item->key ==
          "a\xc3\xa9"
          "b c");
    CHECK(item->exp == 1795642827);
    auto never = parse_metadump_line("key=k exp=-1 la=1 cas=1 fetch=no cls=1 size=70\r\n");
    REQUIRE(never);
    CHECK(never->exp == -1);
    CHECK_FALSE(parse_metadump_line("END"));
    CHECK_FALSE(parse_metadump_line("key=bad%2 exp=1"));
    CHECK_FALSE(parse_metadump_line("key=k la=1"));
}

TEST_CASE("an invalid memcached key is refused before any I/O", "[memcached]") {
    // Nothing listens on this port: a refused key must not even try to connect.
    PrivateMemcached server;
    std::string location = server.location();
    server.stop();
    auto client = open_memcached_client(cache_config(location));
    CHECK_THROWS_AS(client->get("has space"), InvalidSessionKey);
    CHECK_THROWS_AS(client->add(std::string(251, 'k'), "v", 1, 10), InvalidSessionKey);
    CHECK_THROWS_AS(client->set("ctl\x01", "v", 1, 10), InvalidSessionKey);
    CHECK_THROWS_AS(client->remove_many({"ok", "not ok"}), InvalidSessionKey);
    CHECK_THROWS_AS(client->get("fine"), StoreUnavailable);
}

// ---- real server

TEST_CASE("sessions Django writes with PyMemcacheCache are read back with their flags and TTL", "[memcached][server]") {
    auto location = shared_memcached();
    if (!location) return;
    std::string prefix = unique_prefix("dj");
    json config = {{"LOCATION", *location}, {"KEY_PREFIX", prefix.substr(0, prefix.size() - 1)}};
    json written = oracle("write_sessions", config, {"5"});
    REQUIRE(written.size() == 5);

    auto client = open_memcached_client(cache_config(*location));
    for (const auto& w : written) {
        std::string key = w["key"].get<std::string>();
        INFO("key " << key);
        auto value = client->get(key);
        REQUIRE(value);
        CHECK(value->flags == 1);  // pymemcache's FLAG_PICKLE
        CHECK(to_hex(value->bytes) == w["hex"].get<std::string>());
        PyValue data = pickle_loads(value->bytes);
        REQUIRE(data.is_dict());
        REQUIRE(data.as_dict().find("name") != nullptr);
        CHECK(data.as_dict().find("name")->as_str() == "d\xc3\xa9j\xc3\xa0 vu");
    }

    // The listing finds them all, with the TTL Django gave (SESSION_COOKIE_AGE).
    auto listed = scan_all(*client, prefix);
    CHECK(listed.size() == 5);
    CHECK_FALSE(client->listing_is_exact());
    for (const auto& e : listed) {
        CHECK(e.value.flags == 1);
        REQUIRE(e.value.ttl_seconds);
        CHECK(*e.value.ttl_seconds > 1209600 - 60);
        // memcached's clock ticks once a second, so "exp - now" in a metadump
        // can read a second or two more than the TTL given.
        CHECK(*e.value.ttl_seconds <= 1209600 + 2);
        CHECK_FALSE(e.value.persistent);
    }
    for (const auto& w : written) client->remove(w["key"].get<std::string>());
}

TEST_CASE("sessions sessionctl writes to memcached are loaded by Django's cache engine", "[memcached][server]") {
    auto location = shared_memcached();
    if (!location) return;
    std::string prefix = unique_prefix("ctl");
    std::string kp = prefix.substr(0, prefix.size() - 1);
    auto client = open_memcached_client(cache_config(*location));
    std::vector<std::string> session_keys;
    for (int i = 0; i < 3; ++i) {
        std::string sk = fmt::format("ctl{:029d}", i);
        session_keys.push_back(sk);
        std::string key = kp + ":1:django.contrib.sessions.cache" + sk;
        REQUIRE(client->add(key, pickle_dumps(session_dict(i)), 1, 1209600));
        CHECK_FALSE(client->add(key, pickle_dumps(session_dict(99)), 1, 1209600));  // add never overwrites
    }
    json loaded = oracle("load_sessions", {{"LOCATION", *location}, {"KEY_PREFIX", kp}}, session_keys);
    for (int i = 0; i < 3; ++i) {
        INFO("session " << session_keys[i]);
        CHECK(loaded[session_keys[i]] == json({{"n", i}, {"who", "sessionctl \xc3\xa9"}}));
    }

    // set() replaces; what Django then loads is the new value.
    std::string key0 = kp + ":1:django.contrib.sessions.cache" + session_keys[0];
    client->set(key0, pickle_dumps(session_dict(42)), 1, 600);
    loaded = oracle("load_sessions", {{"LOCATION", *location}, {"KEY_PREFIX", kp}}, {session_keys[0]});
    CHECK(loaded[session_keys[0]]["n"] == 42);

    // Deleting logs the session out as far as Django is concerned.
    CHECK(client->remove(key0));
    CHECK_FALSE(client->remove(key0));
    loaded = oracle("load_sessions", {{"LOCATION", *location}, {"KEY_PREFIX", kp}}, {session_keys[0]});
    CHECK(loaded[session_keys[0]].is_null());
    std::vector<std::string> rest;
    for (int i = 1; i < 3; ++i) rest.push_back(kp + ":1:django.contrib.sessions.cache" + session_keys[i]);
    rest.push_back(kp + ":1:django.contrib.sessions.cachegone");
    CHECK(client->remove_many(rest) == 2);
}

TEST_CASE("memcached TTLs: none, zero, negative, relative and beyond 30 days", "[memcached][server]") {
    auto location = shared_memcached();
    if (!location) return;
    std::string prefix = unique_prefix("ttl");
    auto real_now = SystemClock().now_micros();
    auto clock = std::make_shared<FakeClock>(real_now);
    MemcachedClientOptions options = memcached_options_from_cache_config(cache_config(*location));
    options.clock = clock;
    auto client = open_memcached_client(options);

    client->set(prefix + "none", "v", 1, std::nullopt);
    client->set(prefix + "rel", "v", 1, 300);
    client->set(prefix + "long", "v", 1, 2592001);
    client->set(prefix + "zero", "v", 1, 0);
    client->set(prefix + "neg", "v", 1, -10);
    CHECK_FALSE(client->get(prefix + "zero"));
    CHECK_FALSE(client->get(prefix + "neg"));
    // add with timeout 0 reports success (the key was free) but leaves nothing,
    // as Django's add(key, value, 0) on memcached does.
    CHECK(client->add(prefix + "addzero", "v", 1, 0));
    CHECK_FALSE(client->get(prefix + "addzero"));
    // ...and a live key makes it fail without touching the value.
    CHECK_FALSE(client->add(prefix + "rel", "other", 1, 0));
    CHECK(client->get(prefix + "rel")->bytes == "v");
    // get() reports the remaining lifetime too (meta command `mg <key> t`).
    auto rel = client->get(prefix + "rel");
    REQUIRE(rel->ttl_seconds);
    CHECK(*rel->ttl_seconds <= 300);
    CHECK(*rel->ttl_seconds >= 295);
    auto none = client->get(prefix + "none");
    CHECK(none->persistent);
    CHECK_FALSE(none->ttl_seconds);

    std::map<std::string, CacheValue> by_key;
    for (auto& e : scan_all(*client, prefix)) by_key[e.key] = e.value;
    CHECK(by_key.size() == 3);
    CHECK(by_key[prefix + "none"].persistent);
    CHECK_FALSE(by_key[prefix + "none"].ttl_seconds);
    REQUIRE(by_key[prefix + "rel"].ttl_seconds);
    // memcached's clock ticks once a second (and lags ours): a metadump may
    // read a second or two more than the TTL given.
    CHECK(*by_key[prefix + "rel"].ttl_seconds <= 300 + 2);
    CHECK(*by_key[prefix + "rel"].ttl_seconds >= 295);
    // Over 30 days went out as an absolute time: the server reports the same
    // remaining lifetime.
    REQUIRE(by_key[prefix + "long"].ttl_seconds);
    CHECK(*by_key[prefix + "long"].ttl_seconds <= 2592001 + 2);
    CHECK(*by_key[prefix + "long"].ttl_seconds >= 2592001 - 5);

    // Django itself, with a timeout beyond 30 days, lands on the same exptime.
    std::string django_key =
        oracle("cache_set", {{"LOCATION", *location}, {"KEY_PREFIX", prefix + "dj"}}, {"x", "2592001"})
            .get<std::string>();
    auto django_entries = scan_all(*client, django_key);
    REQUIRE(django_entries.size() == 1);
    CHECK(*django_entries[0].value.ttl_seconds >= 2592001 - 5);

    for (const char* k : {"none", "rel", "long"}) client->remove(prefix + k);
    client->remove(django_key);
}

TEST_CASE("remove_if_unchanged keeps a value a live request rewrote", "[memcached][server]") {
    auto location = shared_memcached();
    if (!location) return;
    std::string prefix = unique_prefix("cas");
    auto client = open_memcached_client(cache_config(*location));
    client->set(prefix + "a", "old", 1, 600);
    CHECK_FALSE(client->remove_if_unchanged(prefix + "a", "something else"));
    CHECK(client->get(prefix + "a")->bytes == "old");
    CHECK(client->remove_if_unchanged(prefix + "a", "old"));
    CHECK_FALSE(client->get(prefix + "a"));
    // The slot is free again: Django's add() for a new session succeeds.
    CHECK(client->add(prefix + "a", "new", 1, 600));
    CHECK_FALSE(client->remove_if_unchanged(prefix + "missing", "x"));
    client->remove(prefix + "a");
}

TEST_CASE("the metadump listing streams in batches and stops when asked", "[memcached][server]") {
    auto location = shared_memcached();
    if (!location) return;
    std::string prefix = unique_prefix("scan");
    auto client = open_memcached_client(cache_config(*location));
    for (int i = 0; i < 450; ++i) client->set(fmt::format("{}{:04d}", prefix, i), "v", 1, 600);
    client->set(prefix.substr(0, prefix.size() - 1) + "-other", "v", 1, 600);  // not under the prefix

    std::set<std::string> seen;
    std::size_t batches = 0;
    client->scan_prefix(prefix, [&](std::vector<CacheEntry>& batch) {
        ++batches;
        for (const auto& e : batch) seen.insert(e.key);
        return true;
    });
    CHECK(seen.size() == 450);
    CHECK(batches >= 3);

    std::size_t visited = 0;
    client->scan_prefix(prefix, [&](std::vector<CacheEntry>& batch) {
        visited += batch.size();
        return false;
    });
    CHECK(visited > 0);
    CHECK(visited < 450);

    std::vector<std::string> keys(seen.begin(), seen.end());
    keys.push_back(prefix.substr(0, prefix.size() - 1) + "-other");
    CHECK(client->remove_many(keys) == 451);
    CHECK(scan_all(*client, prefix).empty());
}

TEST_CASE("several memcached servers: keys sit where pymemcache puts them", "[memcached][server]") {
    auto shared = shared_memcached();
    if (!shared) return;
    PrivateMemcached second;
    json location = json::array({*shared, second.location()});
    std::string prefix = unique_prefix("multi");
    std::string kp = prefix.substr(0, prefix.size() - 1);
    json written = oracle("write_sessions", {{"LOCATION", location}, {"KEY_PREFIX", kp}}, {"30"});

    auto both = open_memcached_client(cache_config(location));
    auto only_shared = open_memcached_client(cache_config(*shared));
    auto only_second = open_memcached_client(cache_config(second.location()));
    auto servers = parse_memcached_location(location);
    std::vector<std::string> nodes = {servers[0].node, servers[1].node};
    int on_second = 0;
    for (const auto& w : written) {
        std::string key = w["key"].get<std::string>();
        auto value = both->get(key);
        REQUIRE(value);
        CHECK(to_hex(value->bytes) == w["hex"].get<std::string>());
        bool want_second = pymemcache_rendezvous_pick(nodes, key) == 1;
        CHECK(only_second->get(key).has_value() == want_second);
        CHECK(only_shared->get(key).has_value() == !want_second);
        on_second += want_second ? 1 : 0;
    }
    CHECK(on_second > 0);
    CHECK(on_second < 30);
    CHECK(scan_all(*both, prefix).size() == 30);

    // What we write lands where Django looks.
    std::vector<std::string> session_keys;
    for (int i = 0; i < 20; ++i) {
        std::string sk = fmt::format("multi{:027d}", i);
        session_keys.push_back(sk);
        both->set(kp + ":1:django.contrib.sessions.cache" + sk, pickle_dumps(session_dict(i)), 1, 600);
    }
    json loaded = oracle("load_sessions", {{"LOCATION", location}, {"KEY_PREFIX", kp}}, session_keys);
    for (int i = 0; i < 20; ++i) CHECK(loaded[session_keys[i]]["n"] == i);
    for (const auto& w : written) both->remove(w["key"].get<std::string>());
}

TEST_CASE("memcached down or hung is StoreUnavailable naming the server", "[memcached][server]") {
    PrivateMemcached server;
    json config = cache_config(server.location());
    config["OPTIONS"] = {{"connect_timeout", 0.3}, {"timeout", 0.3}};
    auto client = open_memcached_client(config);
    client->set("k", "v", 1, 60);
    REQUIRE(client->get("k"));

    // Hung (stopped, yet the kernel still accepts connections): bounded by the
    // timeout, not forever.
    server.pause();
    auto started = std::chrono::steady_clock::now();
    CHECK_THROWS_AS(client->get("k"), StoreUnavailable);
    auto took = std::chrono::steady_clock::now() - started;
    CHECK(took < std::chrono::seconds(3));
    auto fresh = open_memcached_client(config);
    CHECK_THROWS_WITH(fresh->scan_prefix("", [](std::vector<CacheEntry>&) { return true; }),
                      Catch::Contains(server.location()));
    server.resume();

    server.stop();
    auto down = open_memcached_client(config);
    for (auto op : std::vector<std::function<void()>>{
             [&] { (void)down->get("k"); }, [&] { down->set("k", "v", 1, 60); },
             [&] { (void)down->add("k", "v", 1, 60); }, [&] { (void)down->remove("k"); },
             [&] { (void)down->remove_if_unchanged("k", "v"); },
             [&] { down->scan_prefix("", [](std::vector<CacheEntry>&) { return true; }); }}) {
        try {
            op();
            FAIL("no error with memcached down");
        } catch (const StoreUnavailable& e) {
            std::string msg = e.what();
            CHECK(msg.find(server.location()) != std::string::npos);
            CHECK(msg.find('\n') == std::string::npos);
        }
    }
}

TEST_CASE("a server that does not speak memcached is a clear error, not a hang", "[memcached]") {
    // A loopback listener that answers like a web server and hangs up.
    int listener = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    REQUIRE(::listen(listener, 4) == 0);
    socklen_t len = sizeof addr;
    ::getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len);
    std::thread web([listener] {
        int fd = ::accept(listener, nullptr, nullptr);
        if (fd < 0) return;
        const char answer[] = "HTTP/1.1 400 Bad Request\r\n\r\n";
        (void)::send(fd, answer, sizeof answer - 1, MSG_NOSIGNAL);
        ::close(fd);
    });
    MemcachedServerSpec spec = parse_memcached_location(fmt::format("127.0.0.1:{}", ntohs(addr.sin_port)))[0];
    CHECK_THROWS_WITH(memcached_metadump(spec, {}, [](const MetadumpItem&) { return true; }),
                      Catch::Contains("does not answer like memcached") && Catch::Contains("HTTP/1.1 400"));
    web.join();
    ::close(listener);
}
