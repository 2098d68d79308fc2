#include "backends/mysql/mysql_connection.hpp"

#include "backends/mysql/libmariadb_api.hpp"

#include <fmt/format.h>

#include "core/config.hpp"
#include "core/errors.hpp"

namespace sessionctl {
namespace {

MYSQL* as_mysql(void* p) { return static_cast<MYSQL*>(p); }

std::string one_line(std::string_view text) {
    std::string out;
    for (char c : text) {
        if (c == '\n' || c == '\r' || c == '\t') c = ' ';
        if (c == ' ' && (out.empty() || out.back() == ' ')) continue;
        out += c;
    }
    while (!out.empty() && out.back() == ' ') out.pop_back();
    return out;
}

const char* c_str_or_null(const std::optional<std::string>& value) { return value ? value->c_str() : nullptr; }

// "mysql://USER@HOST:PORT/DB" from what was asked for and, once connected,
// what the client library used (an option file may have supplied any of it).
std::string make_target(const char* user, const char* host, unsigned port, const char* socket, const char* db) {
    const bool on_socket = socket && *socket && (!host || !*host || std::string_view(host) == "localhost");
    std::string out = fmt::format("mysql://{}@{}", user ? user : "", host && *host ? host : "localhost");
    if (!on_socket && port) out += fmt::format(":{}", port);
    out += fmt::format("/{}", db ? db : "");
    if (on_socket) out += fmt::format("?unix_socket={}", socket);
    return out;
}

void set_option(MYSQL* m, mysql_option option, const void* value, std::string_view name) {
    if (mariadb().mysql_options(m, option, value) != 0)
        throw ConfigError(fmt::format("the MySQL client library rejected OPTIONS[\"{}\"]", name));
}

bool is_unavailable(unsigned code) {
    if (code >= 2000 && code < 3000) return true;  // client errors: cannot connect, server gone, lost connection
    for (unsigned c :
         {1040u /* too many connections */, 1045u /* access denied */, 1044u /* db access denied */,
          1053u /* server shutdown */, 1205u /* lock wait timeout */, 1213u /* deadlock */,
          1317u /* query interrupted */, 1969u /* MariaDB max_statement_time */, 3024u /* MySQL max_execution_time */,
          4031u /* idle client disconnected */, 1927u /* connection killed */, 1226u /* user resource limit */})
        if (code == c) return true;
    return false;
}

}  // namespace

const std::string& MysqlResult::text(std::size_t row, std::size_t column) const {
    static const std::string empty;
    const auto& cell = rows_[row][column];
    return cell ? *cell : empty;
}

void MysqlConnection::Deleter::operator()(void* conn) const { mariadb().mysql_close(as_mysql(conn)); }
MysqlConnection::MysqlConnection(void* conn) : conn_(conn) {}
MysqlConnection::~MysqlConnection() = default;

std::unique_ptr<MysqlConnection> MysqlConnection::connect(const MysqlParams& p) {
    const LibmariadbApi& api = mariadb();
    MYSQL* raw = api.mysql_init(nullptr);
    if (!raw) throw StoreUnavailable("cannot connect to MySQL: out of memory");
    std::unique_ptr<MysqlConnection> conn(new MysqlConnection(raw));
    conn->target_ = make_target(c_str_or_null(p.user), c_str_or_null(p.host), p.port ? p.port : 3306,
                                c_str_or_null(p.unix_socket), c_str_or_null(p.database));

    // The option file first: libmariadb reads it at connect time, and what
    // the settings say explicitly (passed to mysql_real_connect) wins.
    if (p.read_default_file)
        set_option(raw, MYSQL_READ_DEFAULT_FILE, p.read_default_file->c_str(), "read_default_file");
    if (p.read_default_group)
        set_option(raw, MYSQL_READ_DEFAULT_GROUP, p.read_default_group->c_str(), "read_default_group");
    set_option(raw, MYSQL_OPT_CONNECT_TIMEOUT, &p.connect_timeout, "connect_timeout");
    if (p.read_timeout) set_option(raw, MYSQL_OPT_READ_TIMEOUT, &p.read_timeout, "read_timeout");
    if (p.write_timeout) set_option(raw, MYSQL_OPT_WRITE_TIMEOUT, &p.write_timeout, "write_timeout");
    if (p.compress) set_option(raw, MYSQL_OPT_COMPRESS, nullptr, "compress");
    if (p.init_command) set_option(raw, MYSQL_INIT_COMMAND, p.init_command->c_str(), "init_command");
    set_option(raw, MYSQL_SET_CHARSET_NAME, p.charset.c_str(), "charset");
    if (p.auth_plugin) set_option(raw, MYSQL_DEFAULT_AUTH, p.auth_plugin->c_str(), "auth_plugin");
    if (p.server_public_key_path)
        set_option(raw, MYSQL_SERVER_PUBLIC_KEY, p.server_public_key_path->c_str(), "server_public_key_path");
    if (p.ssl.any())
        api.mysql_ssl_set(raw, c_str_or_null(p.ssl.key), c_str_or_null(p.ssl.cert), c_str_or_null(p.ssl.ca),
                          c_str_or_null(p.ssl.capath), c_str_or_null(p.ssl.cipher));
    if (p.ssl_mode) {
        // MySQLdb on MariaDB's client maps ssl_mode to these two switches.
        const my_bool on = 1;
        if (*p.ssl_mode == "REQUIRED" || *p.ssl_mode == "VERIFY_CA" || *p.ssl_mode == "VERIFY_IDENTITY")
            set_option(raw, MYSQL_OPT_SSL_ENFORCE, &on, "ssl_mode");
        if (*p.ssl_mode == "VERIFY_CA" || *p.ssl_mode == "VERIFY_IDENTITY")
            set_option(raw, MYSQL_OPT_SSL_VERIFY_SERVER_CERT, &on, "ssl_mode");
    }

    if (!api.mysql_real_connect(raw, c_str_or_null(p.host), c_str_or_null(p.user), c_str_or_null(p.password),
                                c_str_or_null(p.database), p.port, c_str_or_null(p.unix_socket), CLIENT_FOUND_ROWS)) {
        const MysqlFailure failure = conn->last_failure();
        const std::string message = fmt::format("cannot connect to {}: {}", conn->target_, failure.message);
        if (failure.code == mysql_error::kUnknownDatabase) throw StoreMissing(message);
        throw StoreUnavailable(message);
    }
    conn->target_ = make_target(raw->user, raw->host, raw->port, raw->unix_socket, raw->db);
    const char* info = api.mysql_get_server_info(raw);
    conn->mariadb_ = info && std::string_view(info).find("MariaDB") != std::string_view::npos;
    conn->version_ = api.mysql_get_server_version(raw);
    if (p.collation)
        conn->exec(fmt::format("SET NAMES {} COLLATE {}", conn->quote(p.charset), conn->quote(*p.collation)),
                   "set the collation");
    if (p.sql_mode) conn->exec(fmt::format("SET SESSION sql_mode = {}", conn->quote(*p.sql_mode)), "set sql_mode");
    MysqlResult db = conn->exec("SELECT DATABASE()", "read the current database");
    if (db.rows() > 0 && !db.is_null(0, 0)) conn->database_ = db.text(0, 0);
    if (conn->database_.empty())
        throw ConfigError(
            fmt::format("no database selected at {}: set DATABASES[\"default\"][\"NAME\"] (or database= "
                        "in the option file)",
                        conn->target_));
    return conn;
}

MysqlFailure MysqlConnection::last_failure() const {
    MYSQL* m = as_mysql(conn_.get());
    MysqlFailure failure;
    failure.code = mariadb().mysql_errno(m);
    const char* state = mariadb().mysql_sqlstate(m);
    failure.sqlstate = state ? state : "";
    const char* message = mariadb().mysql_error(m);
    failure.message = one_line(message ? message : "unknown error");
    return failure;
}

MysqlResult MysqlConnection::try_exec(std::string_view sql) {
    const LibmariadbApi& api = mariadb();
    MYSQL* m = as_mysql(conn_.get());
    MysqlResult result;
    if (api.mysql_real_query(m, sql.data(), sql.size()) != 0) {
        result.failure_ = last_failure();
        return result;
    }
    MYSQL_RES* res = api.mysql_store_result(m);
    if (!res) {
        if (api.mysql_field_count(m) != 0) {  // a result set was due but could not be read
            result.failure_ = last_failure();
            return result;
        }
        result.affected_ = api.mysql_affected_rows(m);
        return result;
    }
    const unsigned columns = api.mysql_num_fields(res);
    result.rows_.reserve(static_cast<std::size_t>(api.mysql_num_rows(res)));
    while (MYSQL_ROW row = api.mysql_fetch_row(res)) {
        const unsigned long* lengths = api.mysql_fetch_lengths(res);
        auto& out = result.rows_.emplace_back(columns);
        for (unsigned c = 0; c < columns; ++c)
            if (row[c]) out[c].emplace(row[c], lengths[c]);
    }
    api.mysql_free_result(res);
    return result;
}

MysqlResult MysqlConnection::exec(std::string_view sql, std::string_view what) {
    MysqlResult result = try_exec(sql);
    if (!result.ok()) fail(*result.failure(), what);
    return result;
}

void MysqlConnection::fail(const MysqlFailure& failure, std::string_view what) const {
    const std::string message = fmt::format("cannot {} ({}): {}", what, target_, failure.message);
    if (is_unavailable(failure.code)) throw StoreUnavailable(message);
    if (failure.code == mysql_error::kNoSuchTable || failure.code == mysql_error::kUnknownDatabase)
        throw StoreMissing(message);
    throw StoreError(message);
}

std::string MysqlConnection::quote(std::string_view text) const {
    std::string out(text.size() * 2 + 3, '\0');
    out[0] = '\'';
    const unsigned long n =
        mariadb().mysql_real_escape_string(as_mysql(conn_.get()), out.data() + 1, text.data(), text.size());
    if (n == static_cast<unsigned long>(-1)) throw StoreError(fmt::format("cannot quote a value for {}", target_));
    out[n + 1] = '\'';
    out.resize(n + 2);
    return out;
}

std::string quote_mysql_identifier(std::string_view name) {
    std::string out = "`";
    for (char c : name) {
        if (c == '`') out += '`';
        out += c;
    }
    out += '`';
    return out;
}

}  // namespace sessionctl
