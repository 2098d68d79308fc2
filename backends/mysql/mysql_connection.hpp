#pragma once

// One libmariadb connection, the only place libmariadb appears (mysql.h stays
// in the .cpp; the library is dlopen'ed on first use, libmariadb_api.hpp).
// Statements are sent as text with values quoted by the client library
// (mysql_real_escape_string, in the connection's character set), as Django's
// driver MySQLdb does. Errors come back as the store error kinds sessionctl
// reports, with the server's error number for callers that must tell "key
// taken" or "row referenced" from any other failure. No message ever holds a
// password: they are built from the server's message and target().

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sessionctl {

// What MySQLdb.connect() receives from Django's get_connection_params(): the
// settings' NAME/USER/PASSWORD/HOST/PORT and OPTIONS, already validated
// (backends/mysql/mysql_settings.hpp). Unset fields are left to the client
// library (and to the option file named by read_default_file/_group).
struct MysqlParams {
    std::optional<std::string> host;
    std::optional<std::string> user;
    std::optional<std::string> password;
    std::optional<std::string> database;
    std::optional<std::string> unix_socket;
    unsigned port = 0;
    std::optional<std::string> read_default_file;
    std::optional<std::string> read_default_group;
    std::optional<std::string> init_command;
    std::string charset = "utf8mb4";
    std::optional<std::string> collation;
    std::optional<std::string> sql_mode;
    std::optional<std::string> auth_plugin;
    std::optional<std::string> server_public_key_path;
    unsigned connect_timeout = 10;  // seconds; a dead host must not hang a cron job
    unsigned read_timeout = 0;
    unsigned write_timeout = 0;
    bool compress = false;
    // OPTIONS["ssl"] (MySQLdb's dict: ca, capath, cert, key, cipher) and
    // OPTIONS["ssl_mode"] (DISABLED, PREFERRED, REQUIRED, VERIFY_CA, VERIFY_IDENTITY).
    struct Ssl {
        std::optional<std::string> ca, capath, cert, key, cipher;
        [[nodiscard]] bool any() const { return ca || capath || cert || key || cipher; }
    } ssl;
    std::optional<std::string> ssl_mode;
};

// MySQL error numbers sessionctl tells apart (mysqld_error.h, errmsg.h).
namespace mysql_error {
inline constexpr unsigned kDuplicateKey = 1062;         // ER_DUP_ENTRY
inline constexpr unsigned kRowIsReferenced = 1451;      // ER_ROW_IS_REFERENCED_2
inline constexpr unsigned kRowIsReferencedOld = 1217;   // ER_ROW_IS_REFERENCED
inline constexpr unsigned kNoDefault = 1364;            // ER_NO_DEFAULT_FOR_FIELD
inline constexpr unsigned kBadNull = 1048;              // ER_BAD_NULL_ERROR
inline constexpr unsigned kReadOnlyTransaction = 1792;  // ER_CANT_EXECUTE_IN_READ_ONLY_TRANSACTION
inline constexpr unsigned kReadOnlyServer = 1290;       // ER_OPTION_PREVENTS_STATEMENT (--read-only)
inline constexpr unsigned kNoSuchTable = 1146;          // ER_NO_SUCH_TABLE
inline constexpr unsigned kUnknownDatabase = 1049;      // ER_BAD_DB_ERROR
inline constexpr unsigned kUnknownTimeZone = 1298;      // ER_UNKNOWN_TIME_ZONE
}  // namespace mysql_error

// What went wrong with one statement (code 0 never happens; codes 2000-2999
// are the client's: connection lost, server gone).
struct MysqlFailure {
    unsigned code = 0;
    std::string sqlstate;
    std::string message;  // one line
};

// A result set read whole (mysql_store_result), or the count of rows a write
// changed (with CLIENT_FOUND_ROWS: matched, as Django expects of an UPDATE).
class MysqlResult {
public:
    MysqlResult() = default;
    [[nodiscard]] bool ok() const { return !failure_; }
    [[nodiscard]] const std::optional<MysqlFailure>& failure() const { return failure_; }
    [[nodiscard]] std::size_t rows() const { return rows_.size(); }
    [[nodiscard]] bool is_null(std::size_t row, std::size_t column) const { return !rows_[row][column]; }
    [[nodiscard]] const std::string& text(std::size_t row, std::size_t column) const;
    [[nodiscard]] std::uint64_t affected() const { return affected_; }

private:
    friend class MysqlConnection;
    std::vector<std::vector<std::optional<std::string>>> rows_;
    std::uint64_t affected_ = 0;
    std::optional<MysqlFailure> failure_;
};

class MysqlConnection {
public:
    ~MysqlConnection();
    MysqlConnection(const MysqlConnection&) = delete;
    MysqlConnection& operator=(const MysqlConnection&) = delete;

    // Connects with CLIENT_FOUND_ROWS (as Django), sets the character set,
    // collation and sql_mode. Throws StoreMissing for an unknown database,
    // StoreUnavailable for everything else (server down, refused,
    // authentication failed, TLS required but refused): one line, no password.
    [[nodiscard]] static std::unique_ptr<MysqlConnection> connect(const MysqlParams& params);

    // Runs one statement. exec() throws on failure (see fail()); try_exec()
    // hands the failure back for the caller to classify.
    MysqlResult exec(std::string_view sql, std::string_view what);
    [[nodiscard]] MysqlResult try_exec(std::string_view sql);

    // Turns a failure into StoreUnavailable (connection lost, lock wait
    // timeout, deadlock, statement timeout, too many connections, access
    // denied), StoreMissing (no such table / database) or StoreError,
    // naming `what` and target().
    [[noreturn]] void fail(const MysqlFailure& failure, std::string_view what) const;

    // 'text' quoted for this connection's character set and sql_mode.
    [[nodiscard]] std::string quote(std::string_view text) const;

    // "mysql://USER@HOST:PORT/DB" (or ...@localhost/DB?unix_socket=PATH):
    // where we are connected, never a password.
    [[nodiscard]] const std::string& target() const { return target_; }
    // True for MariaDB; version as mysql_get_server_version gives it (100611
    // for 10.6.11, 80035 for 8.0.35).
    [[nodiscard]] bool is_mariadb() const { return mariadb_; }
    [[nodiscard]] unsigned long server_version() const { return version_; }
    // The database the connection uses (DATABASE()), whether it came from
    // NAME or from an option file.
    [[nodiscard]] const std::string& database() const { return database_; }

private:
    struct Deleter {
        void operator()(void* conn) const;
    };
    explicit MysqlConnection(void* conn);
    [[nodiscard]] MysqlFailure last_failure() const;

    std::unique_ptr<void, Deleter> conn_;
    std::string target_;
    std::string database_;
    bool mariadb_ = false;
    unsigned long version_ = 0;
};

// A MySQL identifier in backquotes (embedded backquotes doubled).
[[nodiscard]] std::string quote_mysql_identifier(std::string_view name);

}  // namespace sessionctl
