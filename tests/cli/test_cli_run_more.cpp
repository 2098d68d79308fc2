// sessionctl end to end, continued: decode, config, errors and exit codes,
// global flags, secrets never echoed, races and interrupts (cli_site.hpp).

#include <catch2/catch.hpp>

#include "tests/cli/cli_site.hpp"

namespace fs = std::filesystem;
using json = nlohmann::json;
using namespace sessionctl;
using namespace sessionctl::cli_test;

// ---- decode

TEST_CASE("decode shows a session_data value and how it was verified", "[cli][run]") {
    Site site;
    const std::string key = site.create({"--user", "42", "--password-hash", "h"});
    const std::string blob = site.row(key)->data;

    Result r = site.run({"decode", blob});
    REQUIRE(r.code == 0);
    json data = json::parse(r.out);
    CHECK(data["_auth_user_id"] == "42");
    CHECK(r.err == "verified with SECRET_KEY; signed 2023-11-14 22:13:20 UTC; compressed\n");

    Result piped = site.run({"--json", "decode", "--stdin"}, blob + "\n");
    REQUIRE(piped.code == 0);
    json j = json::parse(piped.out);
    CHECK(j["data"]["_auth_user_id"] == "42");
    CHECK(j["verified_with"] == "SECRET_KEY");
    CHECK(j["timestamp"] == "2023-11-14T22:13:20+00:00");
    CHECK(j["compressed"] == true);
    CHECK(j["format"] == "signed");
    CHECK(j["status"] == "ok");
    CHECK(j["error"].is_null());
}

TEST_CASE("decode: bad signature exits 4; --no-verify shows the payload marked UNVERIFIED", "[cli][run]") {
    Site site;
    std::string forged = SessionCodec(SecretKeys{"another-site", {}}, session_key_salt("SessionStore"))
                             .encode(PyValue(PyDict{{"who", "mallory"}}), kNow / 1'000'000);
    Result bad = site.run({"decode", forged});
    CHECK(bad.code == 4);
    CHECK(bad.out.empty());
    CHECK(lines_of(bad.err).size() == 1);
    CHECK(contains(bad.err, "sessionctl: error: bad signature"));

    Result look = site.run({"decode", "--no-verify", forged});
    CHECK(look.code == 4);
    CHECK(json::parse(look.out)["who"] == "mallory");
    CHECK(contains(look.err, "UNVERIFIED"));

    Result js = site.run({"--json", "decode", "--no-verify", forged});
    CHECK(js.code == 4);
    json j = json::parse(js.out);
    CHECK(j["status"] == "bad_signature");
    CHECK(j["data"]["who"] == "mallory");
    CHECK(j["verified_with"].is_null());

    // A good value with --no-verify verifies and exits 0.
    std::string good = site.codec().encode(PyValue(PyDict{{"a", 1}}), kNow / 1'000'000);
    CHECK(site.run({"decode", "--no-verify", good}).code == 0);

    Result malformed = site.run({"decode", "not-a-session"});
    CHECK(malformed.code == 4);
    CHECK(contains(malformed.err, "sessionctl: error: "));

    CHECK(site.run({"decode", ""}).code == 2);
}

TEST_CASE("decode --no-verify needs no secret", "[cli][run]") {
    Site site;
    site.write_config(json{{"DATABASES", {{"default", {{"NAME", site.db()}}}}}});
    std::string blob = site.codec().encode(PyValue(PyDict{{"a", 1}}), kNow / 1'000'000);
    if (std::getenv("SESSIONCTL_SECRET_KEY") == nullptr) {
        CHECK(site.run({"decode", blob}).code == 2);
        Result r = site.run({"--json", "decode", "--no-verify", blob});
        CHECK(r.code == 4);
        json j = json::parse(r.out);
        CHECK(j["status"] == "unverified");
        CHECK(j["data"]["a"] == 1);
    }
}

TEST_CASE("decode --signed-cookie checks the cookie salt and max age; --salt any salt", "[cli][run]") {
    Site site;
    auto cookie_codec = site.codec(std::string(kSignedCookiesSalt));
    std::string cookie = cookie_codec.encode(PyValue(PyDict{{"cart", 3}}), kNow / 1'000'000 - 100);

    Result ok = site.run({"decode", "--signed-cookie", cookie});
    CHECK(ok.code == 0);
    CHECK(json::parse(ok.out)["cart"] == 3);

    Result too_old = site.run({"--json", "decode", "--signed-cookie", "--max-age", "50", cookie});
    CHECK(too_old.code == 4);
    CHECK(json::parse(too_old.out)["status"] == "expired");

    CHECK(site.run({"decode", cookie}).code == 4);  // not a session_data value (other salt)

    std::string salted = site.codec("my.salt").encode(PyValue(PyList{1, 2}), kNow / 1'000'000);
    Result s = site.run({"decode", "--salt", "my.salt", salted});
    CHECK(s.code == 0);  // any value is fine with --salt
    CHECK(json::parse(s.out) == json::array({1, 2}));

    // A verified session value that is not a dict: shown, warned, exit 4.
    std::string list_session = site.codec().encode(PyValue(PyList{1}), kNow / 1'000'000);
    Result not_dict = site.run({"decode", list_session});
    CHECK(not_dict.code == 4);
    CHECK(json::parse(not_dict.out) == json::array({1}));
    CHECK(contains(not_dict.err, "sessionctl: warning: the value is a list, not a JSON object"));

    CHECK(site.run({"decode", "--signed-cookie", "--salt", "x", cookie}).code == 2);
}

// ---- config and global flags

TEST_CASE("config prints every setting with its origin and redacts secrets", "[cli][run]") {
    Site site;
    Result r = site.run({"--set", "SESSION_COOKIE_AGE=3600", "config"});
    REQUIRE(r.code == 0);
    CHECK(contains(r.out, "SECRET_KEY = ********  (SECRET_KEY_FILE (" + site.file("secret_key") + "))\n"));
    CHECK(contains(r.out, "SECRET_KEY_FALLBACKS = [\"********\"]  (SECRET_KEY_FALLBACKS_FILE ("));
    CHECK(contains(r.out, "SESSION_COOKIE_AGE = 3600  (--set)\n"));
    CHECK(contains(r.out, "SESSION_ENGINE = \"django.contrib.sessions.backends.db\"  (default)\n"));

    Result js = site.run({"--json", "config"});
    REQUIRE(js.code == 0);
    json j = json::parse(js.out);
    CHECK(j["SECRET_KEY"]["value"] == "********");
    CHECK(j["SESSION_COOKIE_NAME"]["value"] == "sessionid");
    CHECK(j["DATABASES"]["origin"] == site.file("config.json"));

    // Passwords inside other settings are redacted too.
    site.write_config(json{{"SECRET_KEY_FILE", site.file("secret_key")},
                           {"CACHES", {{"default", {{"LOCATION", "redis://user:hunter2@cache:6379/1"}}}}},
                           {"DATABASES", {{"default", {{"NAME", site.db()}, {"PASSWORD", "hunter2"}}}}}});
    Result redacted = site.run({"config"});
    CHECK(redacted.code == 0);
    CHECK_FALSE(contains(redacted.out, "hunter2"));
    CHECK(contains(redacted.out, "redis://user:********@cache:6379/1"));
}

TEST_CASE("configuration errors exit 2 and never echo a secret", "[cli][run]") {
    Site site;
    Result secret_on_argv = site.run({"--set", std::string("SECRET_KEY=") + kSecret, "config"});
    CHECK(secret_on_argv.code == 2);
    CHECK(contains(secret_on_argv.err, "SECRET_KEY cannot be given on the command line"));

    site.write_config(json{{"SECRET_KEY_FILE", site.file("secret_key")}, {"SESSION_COOKIE_AGEE", 5}});
    Result unknown = site.run({"inspect", "--all"});
    CHECK(unknown.code == 2);
    CHECK(contains(unknown.err, "unknown setting 'SESSION_COOKIE_AGEE'"));

    site.write_config(json{{"SECRET_KEY", kSecret}, {"SESSION_COOKIE_AGE", "x"}});
    Result typed = site.run({"config"});
    CHECK(typed.code == 2);

    Result no_file = site.run_raw({"sessionctl", "--config", site.file("nope.json"), "config"});
    CHECK(no_file.code == 2);

    // The cache engine with Django's default CACHES (LocMemCache, inside each
    // Django process): a configuration error that says why.
    site.write_config(json{{"SECRET_KEY_FILE", site.file("secret_key")}, {"SESSION_ENGINE", "cache"}});
    Result locmem = site.run({"inspect", "--all"});
    CHECK(locmem.code == 2);
    CHECK(contains(locmem.err, "LocMemCache lives inside each Django process"));
    // A Redis URL with a password: a refused connection never shows it.
    site.write_config(json{{"SECRET_KEY_FILE", site.file("secret_key")},
                           {"SESSION_ENGINE", "cache"},
                           {"CACHES",
                            {{"default",
                              {{"BACKEND", "django.core.cache.backends.redis.RedisCache"},
                               {"LOCATION", "redis://:hunter2-pw@127.0.0.1:1/0"}}}}}});
    Result refused = site.run({"inspect", "--all"});
    CHECK(refused.code == 3);
    CHECK_FALSE(contains(refused.err, "hunter2-pw"));
    CHECK(contains(refused.err, "redis://:********@127.0.0.1:1/0"));
}

TEST_CASE("a session key that is not a key exits 2 before any I/O", "[cli][run]") {
    // No database at all: touching the store would say "database file not found".
    Site site(json::object(), /*create_db=*/false);
    for (const auto& command : {"inspect", "delete"}) {
        Result r = site.run({command, "../etc/passwd"});
        CHECK(r.code == 2);
        CHECK(contains(r.err, "invalid session key '../etc/passwd'"));
    }
    CHECK(site.run({"expire", "short", "--now"}).code == 2);
    CHECK(site.run({"delete", "--stdin"}, "goodgoodgoodgood\n../../x\n").code == 2);
    CHECK_FALSE(fs::exists(site.db()));

    Result no_db = site.run({"inspect", "goodgoodgoodgood"});
    CHECK(no_db.code == 2);
    CHECK(contains(no_db.err, "database file not found"));
}

TEST_CASE("a locked database is exit 3", "[cli][run]") {
    Site site;
    site.write_config(
        json{{"SECRET_KEY_FILE", site.file("secret_key")},
             {"DATABASES",
              {{"default",
                {{"ENGINE", "django.db.backends.sqlite3"}, {"NAME", site.db()}, {"OPTIONS", {{"timeout", 0.05}}}}}}}});
    const std::string key = site.create();
    DbLocker lock(site.db());
    Result del = site.run({"delete", key});
    CHECK(del.code == 3);
    CHECK(contains(del.err, "sessionctl: error: "));
    CHECK(lines_of(del.err).size() == 1);
    CHECK(site.run({"create"}).code == 3);
    CHECK(site.run({"clearsessions"}).code == 3);
}

TEST_CASE("global flags, help and version; CLI11's codes never leak", "[cli][run]") {
    Site site;
    Result version = site.run_raw({"sessionctl", "--version"});
    CHECK(version.code == 0);
    CHECK(lines_of(version.out).at(0) == fmt::format("sessionctl {}", SESSIONCTL_VERSION));
    CHECK(contains(version.out, "django.contrib.sessions.backends.db"));
    CHECK(contains(version.out, "built in"));

    Result help = site.run_raw({"sessionctl", "--help"});
    CHECK(help.code == 0);
    CHECK(contains(help.out, "EXAMPLES"));
    CHECK(contains(help.out, "clearsessions"));
    for (const auto& command : {"inspect", "decode", "create", "delete", "expire", "clearsessions", "config"}) {
        Result sub = site.run_raw({"sessionctl", command, "--help"});
        CHECK(sub.code == 0);
        CHECK(contains(sub.out, "EXAMPLES"));
        CHECK(contains(sub.out, std::string("sessionctl ") + command));
    }

    Result unknown_flag = site.run({"inspect", "--bogus"});
    CHECK(unknown_flag.code == 2);
    CHECK(contains(unknown_flag.err, "sessionctl: error: "));
    CHECK(lines_of(unknown_flag.err).size() == 1);
    CHECK(site.run({"frobnicate"}).code == 2);
    CHECK(site.run({}).code == 2);
    CHECK(site.run({"-q", "-v", "config"}).code == 2);
    CHECK(site.run({"inspect", "--limit", "many", "--all"}).code == 2);

    // Global flags work after the command too.
    const std::string key = site.create();
    Result late = site.run({"inspect", key, "--json"});
    CHECK(late.code == 0);
    CHECK(json_lines(late.out).size() == 1);
}

TEST_CASE("a secret or an unknown option's value on the command line is never echoed", "[cli][run][secrets]") {
    Site site;
    const std::string value = "S3CRETVALUE";
    struct Case {
        std::vector<std::string> args;
        std::string named;  // what the one error line must name
    };
    // --secret-key / --secret are refused by name before CLI11 parses: before
    // or after the command, the value apart or attached with '='.
    for (const Case& c : std::vector<Case>{{{"--secret-key", value, "inspect", "x"}, "--secret-key is not accepted"},
                                           {{"inspect", "--secret=" + value, "x"}, "--secret is not accepted"},
                                           {{"inspect", "x", "--secret-key=" + value}, "--secret-key is not accepted"},
                                           {{"--secret", value, "config"}, "--secret is not accepted"}}) {
        Result r = site.run(c.args);
        INFO(r.err);
        CHECK(r.code == 2);
        CHECK(lines_of(r.err).size() == 1);
        CHECK(contains(r.err, "sessionctl: error: " + c.named));
        CHECK(contains(r.err, "use SECRET_KEY_FILE in the config or the SESSIONCTL_SECRET_KEY environment variable"));
        CHECK_FALSE(contains(r.err, value));
        CHECK(r.out.empty());
    }
    // Any other parse error names the option, never a value: an unknown option
    // followed by a value, or with one attached, a bad value for a known
    // option, a value given to a flag, an extra positional argument.
    for (const Case& c : std::vector<Case>{{{"--bogus", value}, "unknown option --bogus"},
                                           {{"--secrte-key=" + value, "inspect", "x"}, "unknown option --secrte-key"},
                                           {{"inspect", "x", "--bogus=" + value}, "unknown option --bogus"},
                                           {{"-p" + value, "config"}, "unknown option -p"},
                                           {{"inspect", "--limit", value, "--all"}, "invalid value for --limit"},
                                           {{"--json=" + value, "config"}, "invalid value for --json"},
                                           {{value, "config"}, "1 unexpected argument"}}) {
        Result r = site.run(c.args);
        INFO(r.err);
        CHECK(r.code == 2);
        CHECK(lines_of(r.err).size() == 1);
        CHECK(contains(r.err, "sessionctl: error: " + c.named));
        CHECK_FALSE(contains(r.err, value));
        CHECK(r.out.empty());
    }
}

TEST_CASE("USE_TZ = false: expiry is local wall time in TIME_ZONE, shown in UTC", "[cli][run]") {
    const char* saved = std::getenv("TZ");
    std::optional<std::string> saved_tz = saved ? std::optional<std::string>(saved) : std::nullopt;
    {
        Site site(json{{"USE_TZ", false}, {"TIME_ZONE", "America/Chicago"}});
        const std::string key = site.create({"--expiry", "3600"});
        // Chicago is UTC-6 in November: Django stores the naive local time.
        CHECK(site.row(key)->expire_date->str_naive() == "2023-11-14 17:13:20");
        json j = site.inspect_json(key);
        CHECK(j["expire_date"] == "2023-11-14T23:13:20+00:00");
        CHECK(j["expired"] == false);

        REQUIRE(site.run({"expire", key, "--at", "2030-01-01T00:00:00Z"}).code == 0);
        CHECK(site.inspect_json(key)["expire_date"] == "2030-01-01T00:00:00+00:00");

        site.write_config(
            json{{"SECRET_KEY_FILE", site.file("secret_key")}, {"USE_TZ", false}, {"TIME_ZONE", "Mars/Olympus_Mons"}});
        CHECK(site.run({"config"}).code == 2);
    }
    if (saved_tz) ::setenv("TZ", saved_tz->c_str(), 1);
    else ::unsetenv("TZ");
    ::tzset();
}

// ---- races with live requests

TEST_CASE("delete --user keeps a session rewritten between scan and delete: exit 5", "[cli][run][race]") {
    Site site;
    const std::string a = site.create({"--user", "42", "--password-hash", "h"});
    const std::string b = site.create({"--user", "42", "--password-hash", "h"});
    std::string rewritten = site.codec().encode(PyValue(PyDict{{"_auth_user_id", "42"}, {"new", 1}}), kNow / 1'000'000);
    site.race_hook = [&](std::string_view point, std::string_view) {
        if (point != "delete: before remove") return;
        auto row = site.row(b);
        row->data = rewritten;
        REQUIRE(site.table()->update(*row));
    };
    Result r = site.run({"--json", "delete", "--user", "42"});
    CHECK(r.code == 5);
    CHECK(json::parse(r.out) == json{{"matched", 2}, {"deleted", 1}});
    CHECK(contains(r.err, "1 of 2 matched sessions changed"));
    CHECK_FALSE(site.row(a));
    REQUIRE(site.row(b));
    CHECK(site.row(b)->data == rewritten);
}

TEST_CASE("expire never recreates a session deleted meanwhile", "[cli][run][race]") {
    Site site;
    const std::string key = site.create({"--data", R"({"x":1})"});
    site.race_hook = [&](std::string_view point, std::string_view k) {
        if (point == "expire: before open") site.table()->erase(k);
    };
    Result r = site.run({"expire", key, "--in", "60"});
    CHECK(r.code == 5);
    CHECK(contains(r.err, "changed while it was being updated"));
    CHECK(site.row_count() == 0);
}

TEST_CASE("expire never overwrites data that became undecodable meanwhile", "[cli][run][race]") {
    Site site;
    const std::string key = site.create({"--data", R"({"x":1})"});
    std::string forged = SessionCodec(SecretKeys{"another-site", {}}, session_key_salt("SessionStore"))
                             .encode(PyValue(PyDict{{"y", 2}}), kNow / 1'000'000);
    site.race_hook = [&](std::string_view point, std::string_view k) {
        if (point != "expire: before open") return;
        auto row = site.row(std::string(k));
        row->data = forged;
        REQUIRE(site.table()->update(*row));
    };
    Result r = site.run({"expire", key, "--now"});
    CHECK(r.code == 5);
    CHECK(site.row(key)->data == forged);
    CHECK(site.row(key)->expire_date->str_naive() == "2023-11-28 22:13:20");
}

// ---- run_X directly

TEST_CASE("run_decode and run_config work on a Context without CLI11", "[cli][run]") {
    Site site;
    std::istringstream in;
    std::ostringstream out, err;
    cli::GlobalOptions global;
    global.config_path = site.file("config.json");
    global.json = true;
    cli::Context ctx(global, cli::Io{in, out, err}, std::make_shared<FakeClock>(kNow));

    cli::DecodeArgs args;
    args.blob = site.codec().encode(PyValue(PyDict{{"a", 1}}), kNow / 1'000'000);
    CHECK(cli::run_decode(args, ctx) == cli::ExitCode::ok);
    CHECK(json::parse(out.str())["data"] == json{{"a", 1}});

    out.str("");
    CHECK(cli::run_config(cli::ConfigArgs{}, ctx) == cli::ExitCode::ok);
    CHECK(json::parse(out.str())["SECRET_KEY"]["value"] == "********");
    CHECK_FALSE(contains(out.str() + err.str(), kSecret));

    cli::InspectArgs none;
    CHECK_THROWS_AS(cli::run_inspect(none, ctx), cli::UsageError);
}

TEST_CASE("Ctrl-C stops a bulk command between keys, reports what was done, exits 130", "[cli][run][interrupt]") {
    Site site;
    const std::string a = site.create();
    const std::string b = site.create();
    site.race_hook = [&](std::string_view point, std::string_view key) {
        if (point == "expire: before open" && key == a) std::raise(SIGINT);
    };
    Result r = site.run({"--json", "expire", a, b, "--in", "60"});
    CHECK(r.code == 130);
    CHECK(json::parse(r.out) == json{{"matched", 1}, {"updated", 1}, {"keys", {a}}});
    CHECK(contains(r.err, "interrupted; updated 1 of 2"));
    CHECK(site.inspect_json(a)["data"]["_session_expiry"] == 60);
    CHECK_FALSE(site.inspect_json(b)["data"].contains("_session_expiry"));
}
