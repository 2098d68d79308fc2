// clearsessions' windows along the primary key on MySQL/MariaDB
// (backends/mysql/mysql_key_windows.hpp): key positions, and on a real
// table, windows placed by position and sized by the optimizer's estimate,
// with the keys estimates cannot place (other characters, a long shared
// prefix) measured instead. Whatever the windows, every expired row goes and
// every live one stays.

#include <catch2/catch.hpp>

#include <random>
#include <set>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "backends/mysql/mysql_key_windows.hpp"
#include "backends/mysql/mysql_table.hpp"
#include "tests/support/mysql_test_support.hpp"

using namespace sessionctl;
using sessionctl::testing::MysqlTestDatabase;

namespace {

DateTime naive(const std::string& text) { return *parse_django_datetime(text); }

std::string random_django_key(std::mt19937& random) {
    static constexpr std::string_view kChars = "abcdefghijklmnopqrstuvwxyz0123456789";
    std::uniform_int_distribution<std::size_t> pick(0, kChars.size() - 1);
    std::string key;
    for (int i = 0; i < 32; ++i) key += kChars[pick(random)];
    return key;
}

// `count` rows of `key(i)`, every third one live, in multi-row INSERTs.
void fill(MysqlTestDatabase& db, std::size_t count, const std::function<std::string(std::size_t)>& key) {
    for (std::size_t start = 0; start < count; start += 1000) {
        std::string values;
        for (std::size_t i = start; i < std::min(count, start + 1000); ++i)
            values += fmt::format("{}('{}', 'data{}', '{}')", values.empty() ? "" : ",", key(i), i,
                                  i % 3 == 0 ? "2030-01-01 00:00:00" : "2020-01-01 00:00:00");
        db.sql("INSERT INTO django_session VALUES " + values);
    }
    db.sql("ANALYZE TABLE django_session");
}

std::set<std::string> keys_of(MysqlTestDatabase& db, const std::string& where) {
    std::set<std::string> keys;
    MysqlResult r = db.admin().exec("SELECT session_key FROM django_session WHERE " + where, "read the keys");
    for (std::size_t i = 0; i < r.rows(); ++i) keys.insert(r.text(i, 0));
    return keys;
}

std::unique_ptr<MysqlTable> fresh_table(MysqlTestDatabase& db) {
    db.sql("DROP TABLE IF EXISTS django_session");
    for (const auto& statement : django_session_mysql_ddl()) db.sql(statement);
    return open_mysql_table(db.params(), {});
}

}  // namespace

TEST_CASE("MySQL key positions: base-36 digits of a key's first 12 characters", "[mysql][windows]") {
    CHECK(mysql_key_position("") == 0);
    CHECK(mysql_key_position("000000000000") == 0);
    CHECK(mysql_key_position("000000000001") == 1);
    CHECK(mysql_key_position("00000000000a") == 10);
    CHECK(mysql_key_position("1") == *mysql_key_position("100000000000"));
    CHECK(mysql_key_position("zzzzzzzzzzzz") == kKeyPositions - 1);
    // Only the first 12 characters count.
    CHECK(mysql_key_position("abcdefghijklmnop") == mysql_key_position("abcdefghijkl"));
    CHECK(mysql_key_position("abcdefghijkl~~~") == mysql_key_position("abcdefghijkl"));
    // Other characters: where the collation puts them is not known here.
    CHECK_FALSE(mysql_key_position("Abc").has_value());
    CHECK_FALSE(mysql_key_position("ab_c").has_value());
    CHECK_FALSE(mysql_key_position("ab\xc3\xa9").has_value());

    CHECK(mysql_key_at(0) == "000000000000");
    CHECK(mysql_key_at(kKeyPositions - 1) == "zzzzzzzzzzzz");
    std::mt19937 random(16);
    for (int i = 0; i < 200; ++i) {
        const std::string key = random_django_key(random);
        const std::uint64_t position = *mysql_key_position(key);
        CHECK(mysql_key_at(position) == key.substr(0, 12));
        // A window from this key to the next position ends after it.
        if (position + 1 < kKeyPositions) CHECK(mysql_key_at(position + 1) > key);
    }
}

TEST_CASE("MySQL clearsessions windows sized by estimate remove every expired row and keep every live one",
          "[mysql][windows]") {
    auto* db = MysqlTestDatabase::get();
    if (!db) return;
    auto table = fresh_table(*db);
    std::mt19937 random(7);
    // 30k Django keys, and keys that sort before, between and after them
    // in the collation or that no position places: every third one live.
    std::vector<std::string> odd = {"",
                                    " lead",
                                    "!bang",
                                    "-dash",
                                    "0",
                                    "a",
                                    "ABC",
                                    "Zebra",
                                    "a_b",
                                    "m~",
                                    "zzzzzzzzzzzzzzzz",
                                    "zzzzzzzzzzzz~",
                                    "\xc3\xa9t\xc3\xa9",
                                    "~tilde",
                                    "\x7f"};
    for (int i = 0; i < 40; ++i) odd.push_back(fmt::format("samesameprefix{:04d}", i));
    fill(*db, 30000 + odd.size(), [&](std::size_t i) { return i < odd.size() ? odd[i] : random_django_key(random); });
    const auto live = keys_of(*db, "expire_date > '2025-01-01'");
    REQUIRE(live.size() == (30000 + odd.size() + 2) / 3);

    BulkOptions options;
    options.batch_size = 1000;  // a 30k table is 30 windows: estimates are used
    std::vector<std::uint64_t> done;
    options.progress = [&](std::uint64_t removed, std::uint64_t) { done.push_back(removed); };
    // Rows the server read for the whole job (global: nothing else runs on
    // the test server meanwhile): the progress count reads the expired rows,
    // then each window is read to list its keys and again by its DELETE.
    // Finding a window's end by reading it would read every row once more.
    const auto rows_read = [&] {
        MysqlResult status = db->admin().exec("SHOW GLOBAL STATUS LIKE 'Rows_read'", "read the server's status");
        REQUIRE(status.rows() == 1);
        return std::stoull(status.text(0, 1));
    };
    const std::uint64_t rows = 30000 + odd.size();
    const std::uint64_t expired = rows - live.size();
    const std::uint64_t read_before = rows_read();
    BulkResult r = table->delete_expired(naive("2025-01-01 00:00:00"), DryRun::no, true, options);
    const std::uint64_t read = rows_read() - read_before;
    CHECK(read >= expired + 2 * rows);
    CHECK(read < expired + rows * 5 / 2);
    CHECK(r.end == BulkEnd::complete);
    CHECK(r.removed == 30000 + odd.size() - live.size());
    CHECK(r.keys.size() == r.removed);
    CHECK(keys_of(*db, "TRUE") == live);
    // Windows of about 1000 keys (two thirds expired): bounded, and many.
    CHECK(r.batches >= 10);
    for (std::size_t i = 0; i < done.size(); ++i) CHECK(done[i] - (i ? done[i - 1] : 0) <= 4 * 1000);
}

TEST_CASE("MySQL clearsessions windows over keys sharing a long prefix are measured, not estimated",
          "[mysql][windows]") {
    auto* db = MysqlTestDatabase::get();
    if (!db) return;
    auto table = fresh_table(*db);
    // 20k keys with one 14-character prefix: one key position holds them
    // all, no estimate can split them. Measured windows hold exactly
    // --batch-size keys, so 20 of them.
    fill(*db, 20000, [](std::size_t i) { return fmt::format("samesameprefix{:06d}", i); });
    BulkOptions options;
    options.batch_size = 1000;
    BulkResult r = table->delete_expired(naive("2025-01-01 00:00:00"), DryRun::no, false, options);
    CHECK(r.end == BulkEnd::complete);
    CHECK(r.removed == 20000 - 6667);
    CHECK(r.batches == 20);
    CHECK(db->value("SELECT COUNT(*) FROM django_session") == "6667");
}
