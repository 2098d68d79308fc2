#pragma once

// MySQL/MariaDB for the tests: the shared server from scripts/servers.sh
// ($SESSIONCTL_TEST_MYSQL, mysql://USER[:PASSWORD]@HOST:PORT), and one
// database of this test process on it (sessionctl_test_<pid>), created on
// first use and dropped at exit, so that parallel test runs never see each
// other's rows.

#include <unistd.h>

#include <memory>
#include <optional>
#include <string>

#include <fmt/format.h>
#include <catch2/catch.hpp>

#include "backends/mysql/mysql_connection.hpp"
#include "backends/mysql/mysql_table.hpp"
#include "backends/sql/memory_table.hpp"
#include "tests/support/server_support.hpp"

namespace sessionctl::testing {

// mysql://USER[:PASSWORD]@HOST[:PORT] -> connection parameters (no database).
inline MysqlParams mysql_params_from_url(const std::string& url) {
    MysqlParams p;
    std::string rest = url.substr(url.find("://") + 3);
    if (auto slash = rest.find('/'); slash != std::string::npos) rest.resize(slash);
    if (auto at = rest.rfind('@'); at != std::string::npos) {
        std::string userinfo = rest.substr(0, at);
        rest = rest.substr(at + 1);
        if (auto colon = userinfo.find(':'); colon != std::string::npos) {
            p.password = userinfo.substr(colon + 1);
            userinfo.resize(colon);
        }
        p.user = userinfo;
    }
    if (auto colon = rest.rfind(':'); colon != std::string::npos) {
        p.port = static_cast<unsigned>(std::stoul(rest.substr(colon + 1)));
        rest.resize(colon);
    }
    p.host = rest;
    return p;
}

class MysqlTestDatabase {
public:
    // nullptr (after the skip note) when there is no server.
    static MysqlTestDatabase* get() {
        static std::unique_ptr<MysqlTestDatabase> instance;
        static bool tried = false;
        if (!tried) {
            tried = true;
            if (auto url = shared_server("SESSIONCTL_TEST_MYSQL", "MySQL/MariaDB"))
                instance.reset(new MysqlTestDatabase(*url));
        }
        if (!instance) (void)shared_server("SESSIONCTL_TEST_MYSQL", "MySQL/MariaDB");
        return instance.get();
    }

    ~MysqlTestDatabase() {
        try {
            admin_->exec(fmt::format("DROP DATABASE IF EXISTS `{}`", name_), "drop the test database");
        } catch (...) {
        }
    }

    [[nodiscard]] const std::string& name() const { return name_; }
    [[nodiscard]] MysqlParams params() const {
        MysqlParams p = server_;
        p.database = name_;
        return p;
    }
    [[nodiscard]] const MysqlParams& server() const { return server_; }
    MysqlConnection& admin() { return *admin_; }
    void sql(const std::string& statement) { admin_->exec(statement, "run test setup"); }
    [[nodiscard]] std::string value(const std::string& query) {
        MysqlResult r = admin_->exec(query, "run a test query");
        return r.rows() > 0 && !r.is_null(0, 0) ? r.text(0, 0) : std::string("<null>");
    }

private:
    explicit MysqlTestDatabase(const std::string& url)
        : server_(mysql_params_from_url(url)), name_(fmt::format("sessionctl_test_{}", ::getpid())) {
        MysqlParams p = server_;
        p.database = "mysql";
        admin_ = MysqlConnection::connect(p);
        admin_->exec(fmt::format("DROP DATABASE IF EXISTS `{}`", name_), "drop the test database");
        admin_->exec(fmt::format("CREATE DATABASE `{}` CHARACTER SET utf8mb4", name_), "create the test database");
        admin_->exec(fmt::format("USE `{}`", name_), "use the test database");
    }

    MysqlParams server_;
    std::string name_;
    std::unique_ptr<MysqlConnection> admin_;
};

// The store contract's backend: a fresh django_session (Django's DDL) per
// instance, every open_table() a new connection to it. Without a server the
// contract runs on memory instead, after the skip note.
class MysqlBackend {
public:
    MysqlBackend() : db_(MysqlTestDatabase::get()) {
        if (db_) {
            db_->sql("SET FOREIGN_KEY_CHECKS = 0");
            db_->sql("DROP TABLE IF EXISTS django_session");
            db_->sql("SET FOREIGN_KEY_CHECKS = 1");
        }
    }
    std::unique_ptr<SessionTable> open_table() {
        if (!db_) return std::make_unique<MemoryTable>(rows_);
        MysqlOptions options;
        options.create_if_missing = true;
        return open_mysql_table(db_->params(), options);
    }

private:
    MysqlTestDatabase* db_;
    std::shared_ptr<MemoryTable::Rows> rows_ = std::make_shared<MemoryTable::Rows>();
};

}  // namespace sessionctl::testing
