#include "backends/postgres/pg_dsn.hpp"

#include <cctype>

#include <fmt/format.h>

#include "core/config.hpp"
#include "core/url_redact.hpp"

namespace sessionctl {
namespace {

using json = nlohmann::json;

bool starts_with_pg_scheme(std::string_view text) {
    return text.rfind("postgres://", 0) == 0 || text.rfind("postgresql://", 0) == 0;
}

// Connection kwargs Django (or psycopg) consumes itself: never sent to libpq.
bool is_django_only_option(const std::string& key) {
    for (const char* name : {"isolation_level", "server_side_binding", "assume_role", "pool", "cursor_factory",
                             "context", "prepare_threshold", "autocommit", "row_factory"})
        if (key == name) return true;
    return false;
}

// A setting as libpq's text: strings as they are, integers written out
// (PORT: 5432), null/"" meaning "not set" as in Django.
std::optional<std::string> text_setting(const json& value, const std::string& name) {
    if (value.is_null()) return std::nullopt;
    if (value.is_string()) {
        if (value.get<std::string>().empty()) return std::nullopt;
        return value.get<std::string>();
    }
    if (value.is_number_integer()) return std::to_string(value.get<long long>());
    if (value.is_number()) return fmt::format("{}", value.get<double>());
    if (value.is_boolean()) return value.get<bool>() ? "1" : "0";
    throw ConfigError(fmt::format("DATABASES[\"default\"][{}] must be a string or a number", name));
}

std::string quoted(const std::string& key) { return fmt::format("\"{}\"", key); }

bool mentions(const std::string& text, std::string_view word) { return text.find(word) != std::string::npos; }

}  // namespace

bool is_postgresql_database(const json& database) {
    if (!database.is_object()) return false;
    const std::string engine = database.value("ENGINE", "");
    if (engine == "django.db.backends.postgresql" || engine == "django.db.backends.postgresql_psycopg2" ||
        engine == "django.contrib.gis.db.backends.postgis")
        return true;
    if (!engine.empty()) return false;
    const json url = database.value("URL", json());
    return url.is_string() && starts_with_pg_scheme(url.get<std::string>());
}

PgSettings pg_settings_from_django(const json& database, bool use_tz, const std::string& time_zone) {
    PgSettings settings;
    PgParams& p = settings.params;
    // Ours, first so that anything configured overrides them: a dead host must
    // not hang a cron job (libpq waits forever by default), and the server's
    // pg_stat_activity should say who is running.
    p.emplace_back("connect_timeout", "10");
    p.emplace_back("fallback_application_name", "sessionctl");

    const json options = database.value("OPTIONS", json::object());
    if (!options.is_object()) throw ConfigError("DATABASES[\"default\"][\"OPTIONS\"] must be an object");

    std::optional<std::string> url;
    if (database.contains("URL")) url = text_setting(database["URL"], quoted("URL"));
    // NAME: Django's rules (None -> "postgres", "" needs OPTIONS["service"]).
    const json name = database.value("NAME", json(""));
    std::optional<std::string> dbname;
    if (name.is_null()) {
        if (!url) dbname = "postgres";
    } else {
        dbname = text_setting(name, quoted("NAME"));
        if (!dbname && !url && !options.contains("service"))
            throw ConfigError(
                "DATABASES[\"default\"] needs NAME, OPTIONS[\"service\"] or URL (a postgres:// URI) for PostgreSQL");
    }
    // The URL goes first: libpq expands the first dbname, and every later
    // keyword overrides what the URL said.
    if (url) p.emplace_back("dbname", *url);
    if (dbname) p.emplace_back("dbname", *dbname);

    for (auto it = options.begin(); it != options.end(); ++it) {
        if (is_django_only_option(it.key())) continue;
        auto value = text_setting(it.value(), fmt::format("[\"OPTIONS\"][\"{}\"]", it.key()));
        if (!value) continue;
        if (it.key() == "options") {
            settings.sets_lock_timeout = mentions(*value, "lock_timeout");
            settings.sets_statement_timeout = mentions(*value, "statement_timeout");
        }
        p.emplace_back(it.key(), *value);
    }
    for (const auto& [key, keyword] :
         {std::pair{"USER", "user"}, {"PASSWORD", "password"}, {"HOST", "host"}, {"PORT", "port"}}) {
        if (!database.contains(key)) continue;
        if (auto value = text_setting(database[key], quoted(key))) p.emplace_back(keyword, *value);
    }

    const json db_zone = database.value("TIME_ZONE", json());
    if (!db_zone.is_null() && !db_zone.is_string())
        throw ConfigError("DATABASES[\"default\"][\"TIME_ZONE\"] must be a string or null");
    if (use_tz) {
        settings.time_zone = db_zone.is_string() ? db_zone.get<std::string>() : "UTC";
    } else {
        if (db_zone.is_string())
            throw ConfigError(
                "Connection 'default' cannot set TIME_ZONE because USE_TZ is False (as Django's ImproperlyConfigured)");
        settings.time_zone = time_zone;
    }
    return settings;
}

std::unique_ptr<PgTable> open_pg_table_for(const json& database, bool use_tz, const std::string& time_zone,
                                           bool read_only, bool create_if_missing) {
    PgSettings settings = pg_settings_from_django(database, use_tz, time_zone);
    PgOptions options;
    options.use_tz = use_tz;
    options.time_zone = settings.time_zone;
    options.read_only = read_only;
    options.create_if_missing = create_if_missing;
    if (settings.sets_lock_timeout) options.lock_timeout = std::chrono::milliseconds{0};
    if (settings.sets_statement_timeout) options.statement_timeout = std::chrono::milliseconds{0};
    return open_pg_table(settings.params, options);
}

std::string redact_pg_dsn(std::string_view dsn) {
    std::string text(dsn);
    if (text.find("://") != std::string::npos) {
        text = redact_url(text);
        // ?password=...&... in the query string
        auto query = text.find('?');
        while (query != std::string::npos) {
            auto start = query + 1;
            auto end = text.find('&', start);
            std::string_view param(text.data() + start, (end == std::string::npos ? text.size() : end) - start);
            if (param.rfind("password=", 0) == 0) {
                text.replace(start + 9, param.size() - 9, kRedacted);
                end = text.find('&', start);
            }
            query = end;
        }
        return text;
    }
    // conninfo: password = value | password='quoted \' value'
    std::string out;
    std::size_t i = 0;
    while (i < text.size()) {
        auto found = text.find("password", i);
        if (found == std::string::npos || (found > 0 && !std::isspace(static_cast<unsigned char>(text[found - 1])))) {
            std::size_t stop = found == std::string::npos ? text.size() : found + 1;
            out.append(text, i, stop - i);
            i = stop;
            continue;
        }
        std::size_t j = found + 8;
        while (j < text.size() && text[j] == ' ') ++j;
        if (j >= text.size() || text[j] != '=') {
            out.append(text, i, j - i);
            i = j;
            continue;
        }
        ++j;
        while (j < text.size() && text[j] == ' ') ++j;
        out.append(text, i, j - i);
        if (j < text.size() && text[j] == '\'') {
            ++j;
            while (j < text.size() && text[j] != '\'') j += text[j] == '\\' ? 2 : 1;
            j = std::min(j + 1, text.size());
        } else {
            while (j < text.size() && !std::isspace(static_cast<unsigned char>(text[j]))) ++j;
        }
        out += kRedacted;
        i = j;
    }
    return out;
}

}  // namespace sessionctl
