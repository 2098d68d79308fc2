#include "backends/mysql/mysql_settings.hpp"

#include <algorithm>
#include <cctype>

#include <fmt/format.h>

#include "backends/sql/db_time_zone.hpp"
#include "core/config.hpp"
#include "core/errors.hpp"

namespace sessionctl {
namespace {

using json = nlohmann::json;

std::string setting_name(std::string_view key) { return fmt::format("DATABASES[\"default\"][\"{}\"]", key); }
std::string option_name(std::string_view key) {
    return fmt::format("DATABASES[\"default\"][\"OPTIONS\"][\"{}\"]", key);
}

// A string setting; null and "" mean "not set", as in Django.
std::optional<std::string> text(const json& value, const std::string& name) {
    if (value.is_null()) return std::nullopt;
    if (!value.is_string()) throw ConfigError(fmt::format("{} must be a string", name));
    if (value.get<std::string>().empty()) return std::nullopt;
    return value.get<std::string>();
}

// PORT and the timeouts: Django calls int() on PORT, so "3306" is fine too.
unsigned number(const json& value, const std::string& name) {
    if (value.is_number_unsigned() || (value.is_number_integer() && value.get<long long>() >= 0))
        return static_cast<unsigned>(value.get<long long>());
    if (value.is_string()) {
        const std::string s = value.get<std::string>();
        if (!s.empty() && s.size() < 10 &&
            std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isdigit(c) != 0; }))
            return static_cast<unsigned>(std::stoul(s));
    }
    throw ConfigError(fmt::format("{} must be a non-negative integer", name));
}

bool truthy(const json& value, const std::string& name) {
    if (value.is_boolean()) return value.get<bool>();
    if (value.is_number_integer()) return value.get<long long>() != 0;
    throw ConfigError(fmt::format("{} must be true or false", name));
}

std::string lower(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return s;
}

bool mentions(const std::string& text, std::string_view word) { return lower(text).find(word) != std::string::npos; }

// MySQLdb.connect's keyword arguments that change nothing sessionctl does:
// Python-side conversions and cursor classes, and switches whose value
// sessionctl chooses itself (it runs its own transactions and needs
// CLIENT_FOUND_ROWS, as Django does).
bool is_ignored_option(const std::string& key) {
    for (const char* name : {"conv", "use_unicode", "cursorclass", "binary_prefix", "client_flag", "autocommit",
                             "local_infile", "named_pipe"})
        if (key == name) return true;
    return false;
}

void read_ssl(const json& value, MysqlParams::Ssl& ssl) {
    if (!value.is_object())
        throw ConfigError(fmt::format("{} must be an object (ca, capath, cert, key, cipher)", option_name("ssl")));
    for (auto it = value.begin(); it != value.end(); ++it) {
        const std::string name = fmt::format("{}[\"{}\"]", option_name("ssl"), it.key());
        if (it.key() == "ca") ssl.ca = text(it.value(), name);
        else if (it.key() == "capath") ssl.capath = text(it.value(), name);
        else if (it.key() == "cert") ssl.cert = text(it.value(), name);
        else if (it.key() == "key") ssl.key = text(it.value(), name);
        else if (it.key() == "cipher") ssl.cipher = text(it.value(), name);
        else if (it.key() == "check_hostname") (void)truthy(it.value(), name);
        else
            throw ConfigError(
                fmt::format("{} is not an SSL setting MySQLdb takes (ca, capath, cert, key, cipher)", name));
    }
}

}  // namespace

bool is_mysql_database(const json& database) {
    if (!database.is_object()) return false;
    const std::string engine = database.value("ENGINE", "");
    return engine == "django.db.backends.mysql" || engine == "django.contrib.gis.db.backends.mysql";
}

MysqlSettings mysql_settings_from_django(const json& database, bool use_tz) {
    MysqlSettings settings;
    MysqlParams& p = settings.params;
    auto setting = [&](const char* key) -> std::optional<std::string> {
        if (!database.contains(key)) return std::nullopt;
        return text(database[key], setting_name(key));
    };
    p.user = setting("USER");
    p.database = setting("NAME");
    p.password = setting("PASSWORD");
    if (auto host = setting("HOST")) {
        if (host->front() == '/') p.unix_socket = *host;
        else p.host = *host;
    }
    if (database.contains("PORT") && !database["PORT"].is_null() && database["PORT"] != json(""))
        p.port = number(database["PORT"], setting_name("PORT"));

    const json options = database.value("OPTIONS", json::object());
    if (!options.is_object()) throw ConfigError(fmt::format("{} must be an object", setting_name("OPTIONS")));
    for (auto it = options.begin(); it != options.end(); ++it) {
        const std::string& key = it.key();
        const json& value = it.value();
        const std::string name = option_name(key);
        if (key == "isolation_level") {
            if (value.is_null() || value == json("")) {
                settings.isolation_level.clear();  // the server's own
                continue;
            }
            const std::string level = lower(text(value, name).value_or(""));
            if (level != "read committed" && level != "read uncommitted" && level != "repeatable read" &&
                level != "serializable")
                throw ConfigError(fmt::format(
                    "Invalid transaction isolation level '{}' specified in {}. Use one of 'read committed', 'read "
                    "uncommitted', 'repeatable read', 'serializable', or None.",
                    value.is_string() ? value.get<std::string>() : value.dump(), name));
            settings.isolation_level = level;
        } else if (key == "host") {
            p.host = text(value, name);
        } else if (key == "user") {
            p.user = text(value, name);
        } else if (key == "password" || key == "passwd") {
            p.password = text(value, name);
        } else if (key == "database" || key == "db") {
            p.database = text(value, name);
        } else if (key == "port") {
            p.port = number(value, name);
        } else if (key == "unix_socket") {
            p.unix_socket = text(value, name);
        } else if (key == "read_default_file") {
            p.read_default_file = text(value, name);
        } else if (key == "read_default_group") {
            p.read_default_group = text(value, name);
        } else if (key == "init_command") {
            p.init_command = text(value, name);
            if (p.init_command) {
                settings.sets_lock_wait_timeout = mentions(*p.init_command, "innodb_lock_wait_timeout");
                settings.sets_statement_timeout =
                    mentions(*p.init_command, "max_statement_time") || mentions(*p.init_command, "max_execution_time");
            }
        } else if (key == "charset") {
            if (auto charset = text(value, name)) p.charset = *charset;
        } else if (key == "collation") {
            p.collation = text(value, name);
        } else if (key == "sql_mode") {
            p.sql_mode = text(value, name);
        } else if (key == "auth_plugin") {
            p.auth_plugin = text(value, name);
        } else if (key == "server_public_key_path") {
            p.server_public_key_path = text(value, name);
        } else if (key == "connect_timeout") {
            p.connect_timeout = number(value, name);
        } else if (key == "read_timeout") {
            p.read_timeout = number(value, name);
        } else if (key == "write_timeout") {
            p.write_timeout = number(value, name);
        } else if (key == "compress") {
            p.compress = truthy(value, name);
        } else if (key == "ssl") {
            read_ssl(value, p.ssl);
        } else if (key == "ssl_mode") {
            auto mode = text(value, name);
            if (mode) {
                std::string upper = *mode;
                std::transform(upper.begin(), upper.end(), upper.begin(),
                               [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
                if (upper != "DISABLED" && upper != "PREFERRED" && upper != "REQUIRED" && upper != "VERIFY_CA" &&
                    upper != "VERIFY_IDENTITY")
                    throw ConfigError(
                        fmt::format("{} '{}' is not one of DISABLED, PREFERRED, REQUIRED, VERIFY_CA, "
                                    "VERIFY_IDENTITY",
                                    name, *mode));
                p.ssl_mode = upper;
            }
        } else if (!is_ignored_option(key)) {
            throw ConfigError(
                fmt::format("{} is not a MySQL connection option (MySQLdb.connect does not take it)", name));
        }
    }

    settings.zone = database_time_zone(database, use_tz);
    return settings;
}

std::unique_ptr<MysqlTable> open_mysql_table_for(const json& database, bool use_tz, bool read_only,
                                                 bool create_if_missing) {
    MysqlSettings settings = mysql_settings_from_django(database, use_tz);
    MysqlOptions options;
    options.use_tz = use_tz;
    options.read_only = read_only;
    options.create_if_missing = create_if_missing;
    options.isolation_level = settings.isolation_level;
    options.zone = settings.zone;
    if (settings.sets_lock_wait_timeout) options.lock_wait_timeout = std::chrono::seconds{0};
    if (settings.sets_statement_timeout) options.statement_timeout = std::chrono::milliseconds{0};
    return open_mysql_table(settings.params, options);
}

}  // namespace sessionctl
