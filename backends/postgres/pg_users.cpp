#include "backends/postgres/pg_users.hpp"

#include <fmt/format.h>

#include "backends/postgres/pg_connection.hpp"
#include "backends/postgres/pg_dsn.hpp"
#include "backends/sql/sql_naming.hpp"
#include "core/errors.hpp"

namespace sessionctl {
namespace {

class PgUsers final : public UserSource {
public:
    // Rows per keyset page of scan(): a million users never sit in one result.
    static constexpr int kPageRows = 20000;

    PgUsers(std::unique_ptr<PgConnection> conn, const std::string& table) : conn_(std::move(conn)) {
        const std::string what = "read the user table's schema";
        conn_->run("SET default_transaction_read_only = on; SET statement_timeout = 60000", "set up the session");
        PgResult oid = conn_->exec("SELECT to_regclass($1)::oid::text", {{quote_sql_identifier(table)}}, what);
        if (oid.rows() == 0 || oid.is_null(0, 0))
            throw StoreMissing(fmt::format("no user table {} at {}: set AUTH_USER_MODEL (or AUTH_USER_TABLE)", table,
                                           conn_->target()));
        PgResult name = conn_->exec(
            "SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname) FROM pg_class c JOIN pg_namespace n ON "
            "n.oid = c.relnamespace WHERE c.oid = $1::oid",
            {{oid.string(0, 0)}}, what);
        const std::string qualified = name.string(0, 0);
        describe_ = fmt::format("{} at {}", table, conn_->target());
        PgResult cols = conn_->exec(
            "SELECT a.attname, format_type(a.atttypid, a.atttypmod), coalesce((SELECT true FROM pg_index i WHERE "
            "i.indrelid = a.attrelid AND i.indisprimary AND i.indnatts = 1 AND i.indkey[0] = a.attnum), false) "
            "FROM pg_attribute a WHERE a.attrelid = $1::oid AND a.attnum > 0 AND NOT a.attisdropped",
            {{oid.string(0, 0)}}, what);
        bool has_password = false;
        std::string pk_column;
        for (int i = 0; i < cols.rows(); ++i) {
            const std::string column = cols.string(i, 0);
            if (cols.text(i, 2) == "t") {
                pk_column = column;
                const std::string type = cols.string(i, 1);
                if (type == "integer" || type == "bigint" || type == "smallint") pk_kind_ = UserPkKind::integer;
                else if (type == "uuid") pk_kind_ = UserPkKind::uuid;
                else pk_kind_ = UserPkKind::text;
            }
            if (column == "password") has_password = true;
            if (column == "is_active") has_is_active_ = true;
        }
        if (pk_column.empty() || !has_password)
            throw StoreError(
                fmt::format("{} is not a user table: it needs a one-column primary key and a password "
                            "column (AUTH_USER_MODEL, AUTH_USER_TABLE)",
                            describe_));
        const std::string pk = quote_sql_identifier(pk_column);
        const std::string columns =
            // Aliased: ORDER BY "id" must sort the column, not its text
            // (which an output column named "id" would be).
            fmt::format("{}::text AS user_key, \"password\", {}", pk,
                        has_is_active_ ? "coalesce(\"is_active\", true)" : "true");
        first_page_ = fmt::format("SELECT {} FROM {} ORDER BY {} LIMIT {}", columns, qualified, pk, kPageRows);
        next_page_ =
            fmt::format("SELECT {} FROM {} WHERE {} > $1 ORDER BY {} LIMIT {}", columns, qualified, pk, pk, kPageRows);
        select_one_ = fmt::format("SELECT {} FROM {} WHERE {} = $1", columns, qualified, pk);
    }

    const std::string& describe() const override { return describe_; }
    UserPkKind pk_kind() const override { return pk_kind_; }
    bool has_is_active() const override { return has_is_active_; }

    void scan(const std::function<void(const UserRowView&)>& visit) override {
        std::optional<std::string> last;
        for (;;) {
            PgResult page = last ? conn_->exec(next_page_, {{*last}}, "read the user table")
                                 : conn_->exec(first_page_, {}, "read the user table");
            for (int i = 0; i < page.rows(); ++i) {
                auto pk = canonical_user_pk(pk_kind_, page.text(i, 0));
                if (!pk) continue;
                visit(UserRowView{*pk, page.text(i, 1), page.text(i, 2) == "t"});
            }
            if (page.rows() < kPageRows) return;
            last = page.string(page.rows() - 1, 0);
        }
    }

    std::optional<UserRow> find(std::string_view session_user_id) override {
        auto key = canonical_user_pk(pk_kind_, session_user_id);
        if (!key) return std::nullopt;
        // The key is already in a form the column's type reads (an integer
        // outside its range fails: no such user).
        PgResult r = conn_->try_exec(select_one_, {{*key}});
        if (!r.ok()) {
            if (r.failure()->sqlstate == "22003" || r.failure()->sqlstate == "22P02") return std::nullopt;
            conn_->fail(*r.failure(), "read the user table");
        }
        if (r.rows() == 0) return std::nullopt;
        auto pk = canonical_user_pk(pk_kind_, r.text(0, 0));
        if (!pk) return std::nullopt;
        return UserRow{*pk, r.string(0, 1), r.text(0, 2) == "t"};
    }

private:
    std::unique_ptr<PgConnection> conn_;
    std::string describe_;
    UserPkKind pk_kind_ = UserPkKind::text;
    bool has_is_active_ = false;
    std::string first_page_;
    std::string next_page_;
    std::string select_one_;
};

}  // namespace

std::unique_ptr<UserSource> open_pg_users(const nlohmann::json& database, bool use_tz, const std::string& time_zone,
                                          const std::string& table) {
    PgSettings settings = pg_settings_from_django(database, use_tz, time_zone);
    return std::make_unique<PgUsers>(PgConnection::connect(settings.params), table);
}

}  // namespace sessionctl
