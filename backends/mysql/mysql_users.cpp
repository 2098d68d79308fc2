#include "backends/mysql/mysql_users.hpp"

#include <fmt/format.h>

#include "backends/mysql/mysql_connection.hpp"
#include "backends/mysql/mysql_settings.hpp"
#include "core/errors.hpp"

namespace sessionctl {
namespace {

class MysqlUsers final : public UserSource {
public:
    // Rows per keyset page of scan(): a million users never sit in one result.
    static constexpr std::size_t kPageRows = 20000;

    MysqlUsers(std::unique_ptr<MysqlConnection> conn, const std::string& table) : conn_(std::move(conn)) {
        const std::string what = "read the user table's schema";
        // Read-only for this session: no statement of ours can write. The
        // time limit keeps a scan from holding a metadata lock for long.
        conn_->exec(
            conn_->is_mariadb() ? "SET SESSION max_statement_time = 60" : "SET SESSION max_execution_time = 60000",
            "set up the session");
        conn_->exec("SET SESSION TRANSACTION READ ONLY", "make the session read-only");
        describe_ = fmt::format("{} at {}", table, conn_->target());
        const std::string name = conn_->quote(table);
        MysqlResult cols = conn_->exec(
            fmt::format("SELECT c.COLUMN_NAME, c.DATA_TYPE, c.COLUMN_TYPE, (SELECT COUNT(*) FROM "
                        "information_schema.STATISTICS s WHERE s.TABLE_SCHEMA = c.TABLE_SCHEMA AND s.TABLE_NAME = "
                        "c.TABLE_NAME AND s.INDEX_NAME = 'PRIMARY') FROM information_schema.COLUMNS c WHERE "
                        "c.TABLE_SCHEMA = DATABASE() AND c.TABLE_NAME = {} AND c.COLUMN_KEY = 'PRI'"
                        " UNION ALL SELECT c.COLUMN_NAME, '', '', 0 FROM information_schema.COLUMNS c WHERE "
                        "c.TABLE_SCHEMA = DATABASE() AND c.TABLE_NAME = {} AND c.COLUMN_NAME IN ('password', "
                        "'is_active')",
                        name, name),
            what);
        if (cols.rows() == 0)
            throw StoreMissing(fmt::format("no user table {} at {}: set AUTH_USER_MODEL (or AUTH_USER_TABLE)", table,
                                           conn_->target()));
        std::string pk_column;
        bool has_password = false;
        bool one_column_key = false;
        for (std::size_t i = 0; i < cols.rows(); ++i) {
            const std::string& column = cols.text(i, 0);
            if (!cols.text(i, 1).empty()) {
                pk_column = column;
                one_column_key = cols.text(i, 3) == "1";
                const std::string& type = cols.text(i, 1);
                // Django's UUIDField: char(32) of hex digits on MySQL and
                // older MariaDB, the native uuid type on MariaDB >= 10.7
                // (Django >= 5.0).
                if (type == "int" || type == "bigint" || type == "smallint" || type == "mediumint" || type == "tinyint")
                    pk_kind_ = UserPkKind::integer;
                else if (type == "uuid" || cols.text(i, 2) == "char(32)") {
                    pk_kind_ = UserPkKind::uuid;
                    native_uuid_ = type == "uuid";
                } else pk_kind_ = UserPkKind::text;
            } else if (column == "password") {
                has_password = true;
            } else if (column == "is_active") {
                has_is_active_ = true;
            }
        }
        if (pk_column.empty() || !one_column_key || !has_password)
            throw StoreError(
                fmt::format("{} is not a user table: it needs a one-column primary key and a password "
                            "column (AUTH_USER_MODEL, AUTH_USER_TABLE)",
                            describe_));
        pk_ = quote_mysql_identifier(pk_column);
        // NULL reads as None, which ModelBackend lets in.
        select_ = fmt::format("SELECT {}, `password`, {} FROM {}", pk_,
                              has_is_active_ ? "COALESCE(`is_active` <> 0, 1)" : "1", quote_mysql_identifier(table));
    }

    const std::string& describe() const override { return describe_; }
    UserPkKind pk_kind() const override { return pk_kind_; }
    bool has_is_active() const override { return has_is_active_; }

    void scan(const std::function<void(const UserRowView&)>& visit) override {
        std::optional<std::string> last;
        for (;;) {
            const std::string sql = last ? fmt::format("{} WHERE {} > {} ORDER BY {} LIMIT {}", select_, pk_,
                                                       literal(*last), pk_, kPageRows)
                                         : fmt::format("{} ORDER BY {} LIMIT {}", select_, pk_, kPageRows);
            MysqlResult page = conn_->exec(sql, "read the user table");
            for (std::size_t i = 0; i < page.rows(); ++i) {
                auto pk = canonical_user_pk(pk_kind_, page.text(i, 0));
                if (!pk) continue;
                visit(UserRowView{*pk, page.text(i, 1), page.text(i, 2) != "0"});
            }
            if (page.rows() < kPageRows) return;
            last = page.text(page.rows() - 1, 0);
        }
    }

    std::optional<UserRow> find(std::string_view session_user_id) override {
        auto key = canonical_user_pk(pk_kind_, session_user_id);
        if (!key) return std::nullopt;
        // An integer past the column's range just matches no row.
        if (pk_kind_ == UserPkKind::integer && key->size() > 20) return std::nullopt;
        MysqlResult r =
            conn_->exec(fmt::format("{} WHERE {} = {}", select_, pk_, literal(*key)), "read the user table");
        if (r.rows() == 0) return std::nullopt;
        auto pk = canonical_user_pk(pk_kind_, r.text(0, 0));
        if (!pk) return std::nullopt;
        return UserRow{*pk, r.text(0, 1), r.text(0, 2) != "0"};
    }

private:
    // An integer key as a number (a quoted one would be compared as a double,
    // which cannot tell bigints apart); anything else quoted.
    // MariaDB's uuid type reads only the hyphenated form.
    std::string literal(const std::string& key) const {
        if (pk_kind_ == UserPkKind::integer) return key;
        if (native_uuid_ && key.size() == 32)
            return conn_->quote(fmt::format("{}-{}-{}-{}-{}", key.substr(0, 8), key.substr(8, 4), key.substr(12, 4),
                                            key.substr(16, 4), key.substr(20)));
        return conn_->quote(key);
    }

    std::unique_ptr<MysqlConnection> conn_;
    std::string describe_;
    UserPkKind pk_kind_ = UserPkKind::text;
    bool has_is_active_ = false;
    bool native_uuid_ = false;
    std::string pk_;
    std::string select_;
};

}  // namespace

std::unique_ptr<UserSource> open_mysql_users(const nlohmann::json& database, bool use_tz, const std::string& table) {
    MysqlSettings settings = mysql_settings_from_django(database, use_tz);
    return std::make_unique<MysqlUsers>(MysqlConnection::connect(settings.params), table);
}

}  // namespace sessionctl
