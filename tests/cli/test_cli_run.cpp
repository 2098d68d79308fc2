// sessionctl end to end: cli::run() on a temporary SQLite database and config,
// output captured, every exit code class checked, and the secret never shown.

#include <catch2/catch.hpp>

#include "tests/cli/cli_site.hpp"

namespace fs = std::filesystem;
using json = nlohmann::json;
using namespace sessionctl;
using namespace sessionctl::cli_test;

// ---- create / inspect

TEST_CASE("create writes a session Django accepts and prints key and cookie", "[cli][run]") {
    Site site;
    Result r = site.run({"create", "--data", R"({"cart":[1,2],"name":"Zoë","big":123456789012345678901234567890})"});
    REQUIRE(r.code == 0);
    auto lines = lines_of(r.out);
    REQUIRE(lines.size() == 2);
    const std::string key = lines[0];
    CHECK(key.size() == 32);
    CHECK(lines[1] == "Cookie: sessionid=" + key);

    auto stored = site.row(key);
    REQUIRE(stored);
    DecodeResult d = site.codec().decode(stored->data);
    REQUIRE(d.ok());
    CHECK(d.verified_with() == "SECRET_KEY");
    REQUIRE(d.data.is_dict());
    // UTF-8 input stays UTF-8 (not latin-1 mojibake) and big ints are exact.
    CHECK(*d.data.as_dict().find("name") == PyValue("Zo\xc3\xab"));
    CHECK(*d.data.as_dict().find("big") == PyValue(PyBigInt{"123456789012345678901234567890"}));
    CHECK(stored->expire_date->str_naive() == "2023-11-28 22:13:20");

    json j = site.inspect_json(key);
    CHECK(j["key"] == key);
    CHECK(j["data"]["cart"] == json::array({1, 2}));
    CHECK(j["data"]["name"] == "Zoë");
    CHECK(j["data"]["big"].is_number());  // exact in the text, as Django holds it:
    CHECK(contains(site.run({"--json", "inspect", key}).out, "\"big\":123456789012345678901234567890"));
    CHECK(j["expire_date"] == "2023-11-28T22:13:20+00:00");
    CHECK(j["expired"] == false);
    CHECK(j["user_id"].is_null());
    CHECK(j["verified_with"] == "SECRET_KEY");
    CHECK(j["error"].is_null());
    CHECK(j["size"] == stored->data.size());
    CHECK(j["format"] == "signed");
}

TEST_CASE("create --user logs a user in with Django's three keys", "[cli][run]") {
    Site site;
    const std::string password = "pbkdf2_sha256$600000$salt$hash=";
    Result r =
        site.run({"--json", "create", "--user", "42", "--password-hash", "-", "--expiry", "3600"}, password + "\n");
    REQUIRE(r.code == 0);
    json out = json::parse(r.out);
    const std::string key = out["key"];
    CHECK(out["cookie"] == "sessionid=" + key);
    CHECK(r.err.empty());

    DecodeResult d = site.codec().decode(site.row(key)->data);
    const PyDict& data = d.data.as_dict();
    REQUIRE(data.entries().size() == 4);
    CHECK(data.entries()[0].key == "_auth_user_id");
    CHECK(*data.find("_auth_user_id") == PyValue("42"));
    CHECK(*data.find("_auth_user_backend") == PyValue("django.contrib.auth.backends.ModelBackend"));
    CHECK(*data.find("_auth_user_hash") == PyValue(session_auth_hash(password, kSecret)));
    CHECK(*data.find("_session_expiry") == PyValue(3600));
    CHECK(site.row(key)->expire_date->str_naive() == "2023-11-14 23:13:20");

    Result human = site.run({"inspect", key});
    REQUIRE(human.code == 0);
    CHECK(contains(human.out, "session  " + key + "\n"));
    CHECK(contains(human.out, "  expires  2023-11-14 23:13:20 UTC (in 1 hour)\n"));
    CHECK(contains(human.out, "  user     42\n"));
    CHECK(contains(human.out, "  verified SECRET_KEY\n"));
    CHECK(contains(human.out, "  data     {\n"));
    CHECK(contains(human.out, "\"_auth_user_id\": \"42\""));
}

TEST_CASE("create --user without a password hash needs the user table", "[cli][run]") {
    Site site;  // a session table, no auth_user
    Result r = site.run({"create", "--user", "7", "--expiry", "browser-close"});
    CHECK(r.code == 2);
    CHECK(contains(r.err, "no user table auth_user in " + site.db()));
    CHECK(site.row_count() == 0);
    CHECK(site.run({"create", "--user", "7", "--password-hash", "h", "--auth-backend", "myapp.Backend"}).code == 2);
}

TEST_CASE("create rejects bad input before touching the store", "[cli][run]") {
    Site site;
    CHECK(site.run({"create", "--data", "[1,2]"}).code == 2);
    CHECK(site.run({"create", "--data", "{nope"}).code == 2);
    CHECK(site.run({"create", "--expiry", "soon"}).code == 2);
    CHECK(site.run({"create", "--expiry", "2030-01-01T00:00:00"}).code == 2);  // naive with USE_TZ
    CHECK(site.run({"create", "--password-hash", "x"}).code == 2);             // needs --user
    CHECK(site.run({"create", "--data", "{}", "--data-file", "f"}).code == 2);
    CHECK(site.row_count() == 0);

    site.write_file("data.json", R"({"from_file": "ja"})");
    Result ok = site.run({"create", "--data-file", site.file("data.json")});
    REQUIRE(ok.code == 0);
    CHECK(site.row_count() == 1);
}

TEST_CASE("inspect by key, --all, --user, --where, --keys-only, --limit", "[cli][run]") {
    Site site;
    const std::string alice = site.create({"--user", "42", "--password-hash", "h1", "--data", R"({"lang":"fr"})"});
    const std::string bob = site.create({"--user", "43", "--password-hash", "h2", "--data", R"({"lang":"de"})"});
    const std::string anon = site.create({"--data", R"({"cart":{"coupon":"SPRING"}})"});

    Result all = site.run({"inspect", "--all", "--keys-only"});
    REQUIRE(all.code == 0);
    auto keys = lines_of(all.out);
    CHECK(keys.size() == 3);

    Result user = site.run({"inspect", "--user", "42", "--keys-only"});
    REQUIRE(user.code == 0);
    CHECK(lines_of(user.out) == std::vector<std::string>{alice});

    Result where = site.run({"--json", "inspect", "--where", "cart.coupon=SPRING"});
    REQUIRE(where.code == 0);
    auto rows = json_lines(where.out);
    REQUIRE(rows.size() == 1);
    CHECK(rows[0]["key"] == anon);

    Result both = site.run({"inspect", "--user", "43", "--where", "lang=de", "--keys-only"});
    CHECK(lines_of(both.out) == std::vector<std::string>{bob});

    Result nothing = site.run({"inspect", "--user", "99"});
    CHECK(nothing.code == 1);
    CHECK(nothing.out.empty());

    Result limited = site.run({"inspect", "--all", "--keys-only", "--limit", "2"});
    CHECK(lines_of(limited.out).size() == 2);

    Result live = site.run({"inspect", "--all", "--expired"});
    CHECK(live.code == 1);  // a filter that matched nothing

    // A named key that is missing: exit 1, the others still shown.
    Result mixed = site.run({"inspect", alice, "zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz", "--keys-only"});
    CHECK(mixed.code == 1);
    CHECK(lines_of(mixed.out) == std::vector<std::string>{alice});
    CHECK(contains(mixed.err, "sessionctl: error: no session zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz"));

    Result piped = site.run({"inspect", "--stdin", "--keys-only"}, bob + "\n" + anon + "\n");
    CHECK(piped.code == 0);
    CHECK(lines_of(piped.out) == std::vector<std::string>{bob, anon});

    Result nul = site.run({"inspect", "--stdin", "-0", "--keys-only"}, alice + std::string(1, '\0'));
    CHECK(nul.code == 0);
    CHECK(lines_of(nul.out) == std::vector<std::string>{alice});
}

TEST_CASE("inspect --all on an empty store succeeds with no output", "[cli][run]") {
    Site site;
    Result r = site.run({"inspect", "--all"});
    CHECK(r.code == 0);
    CHECK(r.out.empty());
    CHECK(site.run({"inspect"}).code == 2);  // nothing asked for
}

TEST_CASE("a tampered or foreign-key record is shown as unverified and exits 4", "[cli][run]") {
    Site site;
    const std::string good = site.create({"--user", "42", "--password-hash", "h"});
    const std::string bad = "tamperedtamperedtamperedtampered";
    std::string forged = SessionCodec(SecretKeys{"some-other-secret", {}}, session_key_salt("SessionStore"))
                             .encode(PyValue(PyDict{{"_auth_user_id", "42"}}), kNow / 1'000'000);
    REQUIRE(site.table()->insert(StoredSession{bad, forged, naive_utc(kNow + 3600'000000)}));

    Result r = site.run({"inspect", bad});
    CHECK(r.code == 4);
    CHECK(contains(r.out, "  verified NO: bad signature"));
    CHECK(contains(r.out, "  user     unknown\n"));
    CHECK_FALSE(contains(r.out, "  data"));

    json j = site.inspect_json(bad);
    CHECK(j["verified_with"].is_null());
    CHECK(j["data"].is_null());
    CHECK(contains(j["error"].get<std::string>(), "bad signature"));

    // Forged data claiming user 42 never matches --user 42.
    Result user = site.run({"-v", "inspect", "--user", "42", "--keys-only"});
    CHECK(user.code == 0);
    CHECK(lines_of(user.out) == std::vector<std::string>{good});
    CHECK(contains(user.err, "1 session could not be decoded"));

    // A session signed with a fallback still verifies, and says so.
    std::string old = SessionCodec(SecretKeys{kFallback, {}}, session_key_salt("SessionStore"))
                          .encode(PyValue(PyDict{{"k", 1}}), kNow / 1'000'000);
    REQUIRE(site.table()->insert(StoredSession{"oldoldoldoldoldoldoldoldoldoldol", old, naive_utc(kNow + 60'000000)}));
    CHECK(site.inspect_json("oldoldoldoldoldoldoldoldoldoldol")["verified_with"] == "SECRET_KEY_FALLBACKS[0]");
}

// ---- expire

TEST_CASE("expire changes expiry as set_expiry() and save() would", "[cli][run]") {
    Site site;
    const std::string key = site.create({"--data", R"({"x":1})"});

    Result in = site.run({"expire", key, "--in", "60"});
    REQUIRE(in.code == 0);
    CHECK(in.out == "updated 1 session\n");
    json j = site.inspect_json(key);
    CHECK(j["expire_date"] == "2023-11-14T22:14:20+00:00");
    CHECK(j["data"]["_session_expiry"] == 60);
    CHECK(j["data"]["x"] == 1);

    Result at = site.run({"--json", "expire", key, "--at", "2030-01-01T00:00:00Z"});
    REQUIRE(at.code == 0);
    CHECK(json::parse(at.out) == json{{"matched", 1}, {"updated", 1}, {"keys", {key}}});
    j = site.inspect_json(key);
    CHECK(j["expire_date"] == "2030-01-01T00:00:00+00:00");
    CHECK(j["data"]["_session_expiry"] == "2030-01-01T00:00:00+00:00");

    REQUIRE(site.run({"expire", key, "--default"}).code == 0);
    j = site.inspect_json(key);
    CHECK_FALSE(j["data"].contains("_session_expiry"));
    CHECK(j["expire_date"] == "2023-11-28T22:13:20+00:00");

    REQUIRE(site.run({"expire", key, "--browser-close"}).code == 0);
    CHECK(site.inspect_json(key)["data"]["_session_expiry"] == 0);

    REQUIRE(site.run({"expire", key, "--now"}).code == 0);
    j = site.inspect_json(key);
    CHECK(j["expired"] == true);
    CHECK(j["expire_date"] == "2023-11-14T22:13:20+00:00");
    Result human = site.run({"inspect", key});
    CHECK(contains(human.out, "(expired now)"));

    // An expired session is gone for Django: exit 1, untouched.
    std::string before = site.row(key)->data;
    CHECK(site.run({"expire", key, "--in", "60"}).code == 1);
    CHECK(site.row(key)->data == before);
}

TEST_CASE("expire --at and --now store whole seconds for DJANGO_VERSION 3.2", "[cli][run]") {
    Site site;
    const std::string key = site.create({"--data", R"({"x":1})"});
    Result at = site.run({"--set", "DJANGO_VERSION=3.2.25", "expire", key, "--at", "2023-11-14T23:13:20.5Z"});
    REQUIRE(at.code == 0);
    json j = site.inspect_json(key);
    CHECK(j["data"]["_session_expiry"] == 3601);  // rounded away from now
    CHECK(j["expire_date"] == "2023-11-14T23:13:21+00:00");

    REQUIRE(site.run({"--set", "DJANGO_VERSION=3.2", "expire", key, "--now"}).code == 0);
    j = site.inspect_json(key);
    CHECK(j["data"]["_session_expiry"] == -1);  // never 0: that would mean browser close
    CHECK(j["expired"] == true);

    // From 4.1 on, a date is kept as an ISO string.
    const std::string other = site.create({"--data", R"({"x":2})"});
    REQUIRE(site.run({"--set", "DJANGO_VERSION=4.1", "expire", other, "--at", "2030-01-01T00:00:00Z"}).code == 0);
    CHECK(site.inspect_json(other)["data"]["_session_expiry"] == "2030-01-01T00:00:00+00:00");

    for (const char* bad : {"DJANGO_VERSION=2.2", "DJANGO_VERSION=five", "DJANGO_VERSION=3"}) {
        Result r = site.run({"--set", bad, "expire", other, "--now"});
        CHECK(r.code == 2);
        CHECK(contains(r.err, "DJANGO_VERSION"));
    }
}

TEST_CASE("expire --dry-run shows the new expiry and changes nothing", "[cli][run]") {
    Site site;
    const std::string key = site.create({"--data", R"({"x":1})"});
    json before = site.inspect_json(key);

    Result r = site.run({"expire", key, "--in", "60", "--dry-run"});
    REQUIRE(r.code == 0);
    CHECK(r.out == "would update 1 session\n" + key + "  expires 2023-11-14 22:14:20 UTC\n");
    CHECK(site.inspect_json(key) == before);

    Result js = site.run({"--json", "expire", key, "--at", "2030-01-01T00:00:00Z", "--dry-run"});
    REQUIRE(js.code == 0);
    json j = json::parse(js.out);
    CHECK(j["dry_run"] == true);
    CHECK(j["updated"] == 1);
    CHECK(j["keys"] == json::array({key}));
    CHECK(site.inspect_json(key) == before);
    CHECK(site.run({"expire", "missingmissingmissing", "--now", "--dry-run"}).code == 1);
}

TEST_CASE("expire replaces an _session_expiry Django cannot read, as set_expiry() does", "[cli][run]") {
    Site site;
    const std::string odd = "oddexpiryoddexpiryoddexpiryodd12";
    std::string data =
        site.codec().encode(PyValue(PyDict{{"_session_expiry", "not a date"}, {"k", "v"}}), kNow / 1'000'000);
    REQUIRE(site.table()->insert(StoredSession{odd, data, naive_utc(kNow + 3600'000000)}));
    Result r = site.run({"expire", odd, "--in", "60"});
    CHECK(r.code == 0);
    json j = site.inspect_json(odd);
    CHECK(j["data"] == json{{"_session_expiry", 60}, {"k", "v"}});
    CHECK(j["expire_date"] == "2023-11-14T22:14:20+00:00");
}

TEST_CASE("expire needs exactly one mode and known keys", "[cli][run]") {
    Site site;
    const std::string key = site.create();
    CHECK(site.run({"expire", key}).code == 2);
    CHECK(site.run({"expire", key, "--in", "5", "--now"}).code == 2);
    CHECK(site.run({"expire", "--now"}).code == 2);
    Result missing = site.run({"expire", "missingmissingmissingmissing1234", "--in", "5"});
    CHECK(missing.code == 1);
    CHECK(contains(missing.err, "no session missingmissing"));
    CHECK(missing.out == "updated 0 sessions\n");
}

TEST_CASE("expire refuses a record it cannot decode and leaves it untouched", "[cli][run]") {
    Site site;
    const std::string key = "undecodableundecodableundecodabl";
    std::string forged = SessionCodec(SecretKeys{"another-site", {}}, session_key_salt("SessionStore"))
                             .encode(PyValue(PyDict{{"secret_stuff", "keep me"}}), kNow / 1'000'000);
    REQUIRE(site.table()->insert(StoredSession{key, forged, naive_utc(kNow + 3600'000000)}));
    const std::string good = site.create();

    Result r = site.run({"expire", key, good, "--in", "10"});
    CHECK(r.code == 4);
    CHECK(contains(r.err, "left untouched"));
    CHECK(r.out == "updated 1 session\n");
    auto row = site.row(key);
    CHECK(row->data == forged);
    CHECK(row->expire_date->str_naive() == "2023-11-14 23:13:20");
}

// ---- delete

TEST_CASE("delete by key; an already-gone key is fine", "[cli][run]") {
    Site site;
    const std::string a = site.create();
    const std::string b = site.create();

    Result r = site.run({"delete", a});
    CHECK(r.code == 0);
    CHECK(r.out == "deleted 1 session\n");
    CHECK_FALSE(site.row(a));
    CHECK(site.row(b));

    Result again = site.run({"delete", a});
    CHECK(again.code == 0);
    CHECK(again.out == "deleted 0 sessions\n");

    Result dry = site.run({"delete", "--dry-run", b});
    CHECK(dry.code == 0);
    CHECK(dry.out == "would delete 1 session\n" + b + "\n");
    CHECK(site.row(b));

    Result quiet = site.run({"-q", "delete", "--stdin"}, b + "\n");
    CHECK(quiet.code == 0);
    CHECK(quiet.out.empty());
    CHECK_FALSE(site.row(b));
}

TEST_CASE("delete --user / --where removes only matching verified sessions", "[cli][run]") {
    Site site;
    const std::string a1 = site.create({"--user", "42", "--password-hash", "h"});
    const std::string a2 = site.create({"--user", "42", "--password-hash", "h"});
    const std::string b = site.create({"--user", "43", "--password-hash", "h"});
    const std::string c = site.create({"--data", R"({"cart":{"coupon":"SPRING"}})"});
    std::string forged = SessionCodec(SecretKeys{"another-site", {}}, session_key_salt("SessionStore"))
                             .encode(PyValue(PyDict{{"_auth_user_id", "42"}}), kNow / 1'000'000);
    const std::string f = "forgedforgedforgedforgedforged12";
    REQUIRE(site.table()->insert(StoredSession{f, forged, naive_utc(kNow + 3600'000000)}));

    Result dry = site.run({"--json", "delete", "--user", "42", "--dry-run"});
    REQUIRE(dry.code == 0);
    json dj = json::parse(dry.out);
    CHECK(dj["matched"] == 2);
    CHECK(dj["deleted"] == 0);
    CHECK(dj["keys"].size() == 2);
    CHECK(site.row_count() == 5);

    Result r = site.run({"-v", "delete", "--user", "42"});
    CHECK(r.code == 0);
    auto lines = lines_of(r.out);
    REQUIRE(lines.size() == 3);
    CHECK(lines[0] == "deleted 2 sessions");
    CHECK(contains(r.err, "1 session could not be decoded"));
    CHECK_FALSE(site.row(a1));
    CHECK_FALSE(site.row(a2));
    CHECK(site.row(b));
    CHECK(site.row(f));  // the forged one never matches

    CHECK(site.run({"delete", "--user", "42"}).code == 1);  // nothing left to match

    Result where = site.run({"--json", "delete", "--where", "cart.coupon=\"SPRING\""});
    CHECK(where.code == 0);
    CHECK(json::parse(where.out) == json{{"matched", 1}, {"deleted", 1}});
    CHECK_FALSE(site.row(c));

    CHECK(site.run({"delete", "--where", "nodot"}).code == 2);
    CHECK(site.run({"delete", b, "--user", "43"}).code == 2);
    CHECK(site.run({"delete"}).code == 2);
}

// ---- clearsessions

TEST_CASE("clearsessions removes expired sessions, silently unless asked", "[cli][run]") {
    Site site;
    const std::string old1 = site.create({"--expiry", "-10"});
    const std::string old2 = site.create({"--expiry", "-20"});
    const std::string live = site.create();

    Result dry = site.run({"clearsessions", "--dry-run"});
    CHECK(dry.code == 0);
    CHECK(dry.out == "would remove 2 expired sessions\n");
    CHECK(site.row_count() == 3);

    Result quiet = site.run({"clearsessions"});
    CHECK(quiet.code == 0);
    CHECK(quiet.out.empty());
    CHECK(quiet.err.empty());
    CHECK(site.row_count() == 1);
    CHECK(site.row(live));

    site.clock().advance_seconds(1209600 + 1);
    Result verbose = site.run({"-v", "clearsessions"});
    CHECK(verbose.code == 0);
    CHECK(verbose.out == "removed 1 expired session\n" + live + "\n");

    Result js = site.run({"--json", "clearsessions"});
    CHECK(json::parse(js.out) == json{{"matched", 0}, {"deleted", 0}, {"complete", true}});
}

TEST_CASE("clearsessions --lock: a held lock is exit 3 and nothing is removed", "[cli][run]") {
    Site site;
    site.create({"--expiry", "-10"});
    const std::string lock = site.file("clear.lock");
    {
        cli::FileLock held(lock);
        Result r = site.run({"clearsessions", "--lock", lock});
        CHECK(r.code == 3);
        CHECK(r.err == "sessionctl: error: another sessionctl holds " + lock + "\n");
        CHECK(site.row_count() == 1);
    }
    CHECK(site.run({"clearsessions", "--lock", lock}).code == 0);
    CHECK(site.row_count() == 0);
    struct stat st {};
    REQUIRE(::stat(lock.c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);
}
