// The user table reader: SQLite, PostgreSQL and MySQL sources, the in-memory
// UserTable (keys compared as Django's pk.to_python() would, hashes under
// every key), and get_user()'s rules (LoginChecker).

#include <catch2/catch.hpp>

#include <sqlite3.h>

#include <string>

#include <fmt/format.h>

#include "backends/mysql/mysql_users.hpp"
#include "backends/postgres/pg_users.hpp"
#include "backends/sqlite/sqlite_users.hpp"
#include "backends/users/login_check.hpp"
#include "backends/users/user_table.hpp"
#include "core/auth_hash.hpp"
#include "core/errors.hpp"
#include "core/json_codec.hpp"
#include "tests/support/mysql_test_support.hpp"
#include "tests/support/pg_test_support.hpp"
#include "tests/support/test_support.hpp"

using namespace sessionctl;

namespace {

constexpr const char* kModelBackend = "django.contrib.auth.backends.ModelBackend";

void sqlite_exec(const std::string& path, const std::string& sql) {
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr) == SQLITE_OK);
    char* error = nullptr;
    const int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &error);
    std::string message = error ? error : "";
    sqlite3_free(error);
    sqlite3_close_v2(db);
    INFO(message);
    REQUIRE(rc == SQLITE_OK);
}

// Django's auth_user on SQLite (the columns that matter, as migrate makes them).
const char* kAuthUserDdl =
    R"(CREATE TABLE "auth_user" ("id" integer NOT NULL PRIMARY KEY AUTOINCREMENT, "password" varchar(128) NOT NULL,
       "last_login" datetime NULL, "is_superuser" bool NOT NULL, "username" varchar(150) NOT NULL UNIQUE,
       "is_active" bool NOT NULL);
       INSERT INTO auth_user VALUES (1, 'pbkdf2_sha256$1$a$b', NULL, 0, 'ann', 1);
       INSERT INTO auth_user VALUES (42, 'pbkdf2_sha256$1$c$d', NULL, 0, 'bob', 1);
       INSERT INTO auth_user VALUES (7, 'pbkdf2_sha256$1$e$f', NULL, 0, 'cy', 0);)";

nlohmann::json sqlite_db(const std::string& path) {
    return nlohmann::json{{"ENGINE", "django.db.backends.sqlite3"}, {"NAME", path}};
}

PyDict session_of(const std::string& json) { return json_loads_latin1(json).as_dict(); }

}  // namespace

TEST_CASE("canonical_user_pk reads keys as Django's pk.to_python does", "[backends][users]") {
    CHECK(canonical_user_pk(UserPkKind::integer, "42") == "42");
    CHECK(canonical_user_pk(UserPkKind::integer, " 042 ") == "42");
    CHECK(canonical_user_pk(UserPkKind::integer, "+1_000") == "1000");
    CHECK(canonical_user_pk(UserPkKind::integer, "0") == "0");
    CHECK_FALSE(canonical_user_pk(UserPkKind::integer, "4x"));
    CHECK_FALSE(canonical_user_pk(UserPkKind::integer, ""));
    CHECK(canonical_user_pk(UserPkKind::uuid, "12345678-1234-5678-1234-56781234ABCD") ==
          "1234567812345678123456781234abcd");
    CHECK(canonical_user_pk(UserPkKind::uuid, "{12345678-1234-5678-1234-567812345678}") ==
          "12345678123456781234567812345678");
    CHECK_FALSE(canonical_user_pk(UserPkKind::uuid, "1234"));
    CHECK(canonical_user_pk(UserPkKind::text, " Ann ") == " Ann ");
}

TEST_CASE("default_user_table_name is Django's db_table for AUTH_USER_MODEL", "[backends][users]") {
    CHECK(default_user_table_name("auth.User") == "auth_user");
    CHECK(default_user_table_name("accounts.MemberProfile") == "accounts_memberprofile");
    CHECK_THROWS_AS(default_user_table_name("User"), ConfigError);
    CHECK_THROWS_AS(default_user_table_name("a.b.C"), ConfigError);
}

TEST_CASE("the SQLite user table is read once and looked up by key", "[backends][users][sqlite]") {
    sessionctl::testing::TempDir dir;
    const std::string path = dir.file("db.sqlite3");
    sqlite_exec(path, kAuthUserDdl);
    auto source = open_sqlite_users(sqlite_db(path), "auth_user");
    CHECK(source->pk_kind() == UserPkKind::integer);
    CHECK(source->has_is_active());

    auto bob = source->find(" 42");
    REQUIRE(bob);
    CHECK(bob->pk == "42");
    CHECK(bob->password == "pbkdf2_sha256$1$c$d");
    CHECK(bob->is_active);
    CHECK_FALSE(source->find("43"));
    CHECK_FALSE(source->find("forty-two"));
    CHECK_FALSE(source->find("7")->is_active);

    UserTable users = UserTable::load(*source, {{"new-key", "old-key"}, false});
    CHECK(users.size() == 3);
    auto user = users.find("042");
    REQUIRE(user);
    CHECK(users.is_active(*user));
    CHECK(users.session_auth_hash(*user) == session_auth_hash("pbkdf2_sha256$1$c$d", "new-key"));
    auto current = users.match_hash(*user, session_auth_hash("pbkdf2_sha256$1$c$d", "new-key"));
    REQUIRE(current);
    CHECK(current->secret_index == 0);
    auto fallback = users.match_hash(*user, session_auth_hash("pbkdf2_sha256$1$c$d", "old-key"));
    REQUIRE(fallback);
    CHECK(fallback->secret_index == 1);
    CHECK_FALSE(users.match_hash(*user, session_auth_hash("pbkdf2_sha256$1$c$d", "other-key")));
    CHECK_FALSE(users.match_hash(*user, session_auth_hash("pbkdf2_sha256$1$a$b", "new-key")));
    CHECK_FALSE(users.match_hash(*user, session_auth_hash("pbkdf2_sha256$1$c$d", "new-key", HashAlgorithm::sha1)));
    CHECK_FALSE(users.find("3"));
    CHECK_FALSE(users.is_active(*users.find("7")));
    CHECK(users.memory_bytes() < 3 * 100 + 200);

    UserTable legacy = UserTable::load(*source, {{"new-key"}, true});
    auto sha1 =
        legacy.match_hash(*legacy.find("42"), session_auth_hash("pbkdf2_sha256$1$c$d", "new-key", HashAlgorithm::sha1));
    REQUIRE(sha1);
    CHECK(sha1->sha1);

    // copy to another site: the target's key first (the hash written), the
    // source's 3.2 key second, whose sha1 form is what an old session holds.
    UserTable copying = UserTable::load(*source, {{"target-key", "new-key"}, true, 1});
    auto by_source = copying.match_hash(*copying.find("42"),
                                        session_auth_hash("pbkdf2_sha256$1$c$d", "new-key", HashAlgorithm::sha1));
    REQUIRE(by_source);
    CHECK(by_source->secret_index == 1);
    CHECK(by_source->sha1);
    CHECK_FALSE(copying.match_hash(*copying.find("42"),
                                   session_auth_hash("pbkdf2_sha256$1$c$d", "target-key", HashAlgorithm::sha1)));
    CHECK(copying.session_auth_hash(*copying.find("42")) == session_auth_hash("pbkdf2_sha256$1$c$d", "target-key"));
}

TEST_CASE("a custom SQLite user model: its own table, a UUID key, no is_active", "[backends][users][sqlite]") {
    sessionctl::testing::TempDir dir;
    const std::string path = dir.file("db.sqlite3");
    sqlite_exec(path, R"(CREATE TABLE "shop_customer" ("uid" char(32) NOT NULL PRIMARY KEY,
                         "password" varchar(128) NOT NULL, "email" varchar(254) NOT NULL);
                         INSERT INTO shop_customer VALUES ('0123456789abcdef0123456789abcdef', 'argon2$x', 'a@b');)");
    auto source = open_sqlite_users(sqlite_db(path), "shop_customer");
    CHECK(source->pk_kind() == UserPkKind::uuid);
    CHECK_FALSE(source->has_is_active());
    UserTable users = UserTable::load(*source, {{"k"}, false});
    auto user = users.find("01234567-89AB-cdef-0123-456789abcdef");
    REQUIRE(user);
    CHECK(users.is_active(*user));  // no column: ModelBackend lets the user in
    REQUIRE(source->find("01234567-89ab-cdef-0123-456789abcdef"));

    CHECK_THROWS_AS(open_sqlite_users(sqlite_db(path), "auth_user"), StoreMissing);
    CHECK_THROWS_AS(open_sqlite_users(sqlite_db(dir.file("none.sqlite3")), "auth_user"), StoreMissing);
}

TEST_CASE("LoginChecker applies get_user()'s rules", "[backends][users]") {
    sessionctl::testing::TempDir dir;
    const std::string path = dir.file("db.sqlite3");
    sqlite_exec(path, kAuthUserDdl);
    auto source = open_sqlite_users(sqlite_db(path), "auth_user");
    UserTable users = UserTable::load(*source, {{"new-key", "old-key"}, false});
    LoginChecker checker(users, {kModelBackend, "django.contrib.auth.backends.AllowAllUsersModelBackend"});
    const std::string bob_new = session_auth_hash("pbkdf2_sha256$1$c$d", "new-key");
    const std::string bob_old = session_auth_hash("pbkdf2_sha256$1$c$d", "old-key");
    const std::string cy = session_auth_hash("pbkdf2_sha256$1$e$f", "new-key");
    auto login = [](const std::string& id, const std::string& backend, const std::string& hash) {
        return session_of(fmt::format(
            R"({{"_auth_user_id": "{}", "_auth_user_backend": "{}", "_auth_user_hash": "{}"}})", id, backend, hash));
    };

    CHECK_FALSE(checker.check(session_of(R"({"cart": 1})")));
    auto live = checker.check(login("42", kModelBackend, bob_new));
    REQUIRE(live);
    CHECK_FALSE(live->dead);
    CHECK(live->hash->secret_index == 0);
    auto old = checker.check(login("42", kModelBackend, bob_old));
    CHECK_FALSE(old->dead);
    CHECK(old->hash->secret_index == 1);
    CHECK(checker.check(login("43", kModelBackend, bob_new))->dead == DeadReason::user_gone);
    CHECK(checker.check(login("7", kModelBackend, cy))->dead == DeadReason::user_inactive);
    CHECK_FALSE(checker.check(login("7", "django.contrib.auth.backends.AllowAllUsersModelBackend", cy))->dead);
    CHECK(checker.check(login("42", kModelBackend, cy))->dead == DeadReason::password_changed);
    CHECK(checker.check(login("42", "myapp.backends.Gone", bob_new))->dead == DeadReason::backend_removed);
    CHECK(checker
              .check(session_of(R"({"_auth_user_id": "42", "_auth_user_backend": ")" + std::string(kModelBackend) +
                                R"("})"))
              ->dead == DeadReason::password_changed);
    CHECK(checker.check(session_of(R"({"_auth_user_id": "42"})"))->dead == DeadReason::backend_removed);
}

TEST_CASE("the PostgreSQL user table reads keys, passwords and is_active", "[backends][users][postgres]") {
    auto* db = sessionctl::testing::PgTestDatabase::get();
    if (!db) return;
    db->sql(R"(DROP TABLE IF EXISTS auth_user; DROP TABLE IF EXISTS shop_customer;
               CREATE TABLE auth_user (id integer PRIMARY KEY, password varchar(128) NOT NULL, is_active boolean NOT NULL);
               INSERT INTO auth_user SELECT g, 'pw' || g, g % 10 <> 0 FROM generate_series(1, 45000) g;
               CREATE TABLE shop_customer (uid uuid PRIMARY KEY, password varchar(128) NOT NULL);
               INSERT INTO shop_customer VALUES ('0123456789abcdef0123456789abcdef', 'argon2$x');)");
    nlohmann::json database{{"ENGINE", "django.db.backends.postgresql"}, {"URL", db->url()}};
    auto source = open_pg_users(database, true, "UTC", "auth_user");
    CHECK(source->pk_kind() == UserPkKind::integer);
    REQUIRE(source->find("042"));
    CHECK(source->find("042")->password == "pw42");
    CHECK_FALSE(source->find("99999999999999999999"));
    CHECK_FALSE(source->find("x"));
    CHECK_FALSE(source->find("40")->is_active);
    UserTable users = UserTable::load(*source, {{"k"}, false});  // three keyset pages
    CHECK(users.size() == 45000);
    CHECK(users.session_auth_hash(*users.find("44999")) == session_auth_hash("pw44999", "k"));
    CHECK_FALSE(users.is_active(*users.find("30000")));

    auto custom = open_pg_users(database, true, "UTC", "shop_customer");
    CHECK(custom->pk_kind() == UserPkKind::uuid);
    CHECK_FALSE(custom->has_is_active());
    REQUIRE(custom->find("01234567-89ab-cdef-0123-456789abcdef"));
    CHECK(UserTable::load(*custom, {{"k"}, false}).find("0123456789ABCDEF0123456789ABCDEF"));
    CHECK_THROWS_AS(open_pg_users(database, true, "UTC", "no_such_users"), StoreMissing);
}

TEST_CASE("the MySQL user table reads keys, passwords and is_active", "[backends][users][mysql]") {
    auto* db = sessionctl::testing::MysqlTestDatabase::get();
    if (!db) return;
    db->sql("DROP TABLE IF EXISTS auth_user, shop_customer, shop_member, not_users");
    db->sql(
        "CREATE TABLE auth_user (id int AUTO_INCREMENT PRIMARY KEY, password varchar(128) NOT NULL, is_active "
        "bool NOT NULL)");
    db->sql("INSERT INTO auth_user SELECT seq, CONCAT('pw', seq), seq % 10 <> 0 FROM seq_1_to_45000");
    // Django's UUIDField: char(32) on MySQL; MariaDB >= 10.7's uuid type (Django >= 5.0).
    db->sql("CREATE TABLE shop_customer (uid char(32) PRIMARY KEY, password varchar(128) NOT NULL)");
    db->sql("INSERT INTO shop_customer VALUES ('0123456789ab4def8123456789abcdef', 'argon2$x')");
    db->sql("CREATE TABLE shop_member (uid uuid PRIMARY KEY, password varchar(128) NOT NULL, is_active bool NULL)");
    db->sql("INSERT INTO shop_member VALUES ('01234567-89ab-4def-8123-456789abcdef', 'argon2$y', NULL)");
    db->sql("CREATE TABLE not_users (a int, b int, password text, PRIMARY KEY (a, b))");
    const sessionctl::MysqlParams p = db->params();
    nlohmann::json database{
        {"ENGINE", "django.db.backends.mysql"}, {"NAME", *p.database}, {"USER", *p.user},
        {"PASSWORD", p.password.value_or("")},  {"HOST", *p.host},     {"PORT", std::to_string(p.port)}};
    auto source = open_mysql_users(database, true, "auth_user");
    CHECK(source->pk_kind() == UserPkKind::integer);
    CHECK(source->has_is_active());
    REQUIRE(source->find("042"));
    CHECK(source->find("042")->password == "pw42");
    CHECK(source->find(" +42")->pk == "42");
    CHECK_FALSE(source->find("99999999999999999999"));
    CHECK_FALSE(source->find("99999999999999999999999999"));
    CHECK_FALSE(source->find("x"));
    CHECK_FALSE(source->find("40")->is_active);
    UserTable users = UserTable::load(*source, {{"k"}, false});  // three keyset pages
    CHECK(users.size() == 45000);
    CHECK(users.session_auth_hash(*users.find("44999")) == session_auth_hash("pw44999", "k"));
    CHECK_FALSE(users.is_active(*users.find("30000")));
    CHECK(users.is_active(*users.find("30001")));

    for (const char* table : {"shop_customer", "shop_member"}) {
        INFO(table);
        auto custom = open_mysql_users(database, true, table);
        CHECK(custom->pk_kind() == UserPkKind::uuid);
        REQUIRE(custom->find("01234567-89AB-4def-8123-456789abcdef"));
        CHECK(custom->find("01234567-89AB-4def-8123-456789abcdef")->is_active);
        CHECK(UserTable::load(*custom, {{"k"}, false}).find("0123456789AB4DEF8123456789ABCDEF"));
    }
    CHECK_FALSE(open_mysql_users(database, true, "shop_customer")->has_is_active());
    CHECK_THROWS_AS(open_mysql_users(database, true, "no_such_users"), StoreMissing);
    CHECK_THROWS_WITH(open_mysql_users(database, true, "not_users"), Catch::Contains("is not a user table"));
}
