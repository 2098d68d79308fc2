#pragma once

// PostgreSQL for the tests: the shared server from scripts/servers.sh
// ($SESSIONCTL_TEST_PG), and one database of this test process on it
// (sessionctl_test_<pid>), created on first use and dropped at exit, so that
// parallel test runs never see each other's rows.

#include <unistd.h>

#include <cstdlib>
#include <memory>
#include <optional>
#include <string>

#include <fmt/format.h>
#include <catch2/catch.hpp>

#include "backends/postgres/pg_connection.hpp"
#include "backends/postgres/pg_table.hpp"
#include "backends/sql/memory_table.hpp"
#include "tests/support/server_support.hpp"

namespace sessionctl::testing {

// The shared server's URL, or nullopt after a skip note (a failure under
// SESSIONCTL_REQUIRE_SERVERS=1, as in CI).
inline std::optional<std::string> shared_pg_url(const char* variable = "SESSIONCTL_TEST_PG") {
    return shared_server(variable, "PostgreSQL");
}

class PgTestDatabase {
public:
    // nullptr (after the skip note) when there is no server.
    static PgTestDatabase* get() {
        static std::unique_ptr<PgTestDatabase> instance;
        static bool tried = false;
        if (!tried) {
            tried = true;
            if (auto url = shared_pg_url()) instance.reset(new PgTestDatabase(*url));
        }
        if (!instance) (void)shared_pg_url();  // the note again, in this test
        return instance.get();
    }

    ~PgTestDatabase() {
        try {
            admin_.reset();
            auto server = PgConnection::connect({{"dbname", url_}});
            (void)server->try_exec(fmt::format(R"(DROP DATABASE IF EXISTS "{}" WITH (FORCE))", name_), {});
        } catch (...) {
        }
    }

    [[nodiscard]] const std::string& name() const { return name_; }
    // Parameters for this database: the server's URL, then our dbname.
    [[nodiscard]] PgParams params() const { return {{"dbname", url_}, {"dbname", name_}}; }
    [[nodiscard]] std::string url() const {
        auto slash = url_.rfind('/');
        return url_.substr(0, slash + 1) + name_;
    }
    // A connection of its own for setup and checks (session TimeZone UTC).
    PgConnection& admin() { return *admin_; }
    void sql(const std::string& statement) { admin_->run(statement, "run test setup"); }
    [[nodiscard]] std::string value(const std::string& query) {
        PgResult r = admin_->exec(query, {}, "run a test query");
        return r.rows() > 0 && !r.is_null(0, 0) ? r.string(0, 0) : std::string("<null>");
    }

private:
    explicit PgTestDatabase(std::string url)
        : url_(std::move(url)), name_(fmt::format("sessionctl_test_{}", ::getpid())) {
        auto server = PgConnection::connect({{"dbname", url_}});
        (void)server->try_exec(fmt::format(R"(DROP DATABASE IF EXISTS "{}" WITH (FORCE))", name_), {});
        server->run(fmt::format(R"(CREATE DATABASE "{}")", name_), "create the test database");
        admin_ = PgConnection::connect(params());
        admin_->run("SET TIME ZONE 'UTC'", "set up the test connection");
    }

    std::string url_;
    std::string name_;
    std::unique_ptr<PgConnection> admin_;
};

// The store contract's backend: a fresh django_session (Django's DDL) per
// instance, every open_table() a new connection to it. Without a server the
// contract runs on memory instead, after the skip note.
class PgBackend {
public:
    PgBackend() : db_(PgTestDatabase::get()) {
        if (db_) db_->sql("DROP TABLE IF EXISTS django_session CASCADE");
    }
    std::unique_ptr<SessionTable> open_table() {
        if (!db_) return std::make_unique<MemoryTable>(rows_);
        PgOptions options;
        options.create_if_missing = true;
        return open_pg_table(db_->params(), options);
    }

private:
    PgTestDatabase* db_;
    std::shared_ptr<MemoryTable::Rows> rows_ = std::make_shared<MemoryTable::Rows>();
};

}  // namespace sessionctl::testing
