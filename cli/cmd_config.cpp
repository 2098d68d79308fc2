// sessionctl config: the effective settings and where each came from, with
// every secret redacted (SECRET_KEY, fallbacks, database passwords, and
// passwords inside URLs).

#include <algorithm>
#include <cctype>

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include "backends/mysql/mysql_settings.hpp"
#include "backends/registry.hpp"
#include "backends/sql/db_time_zone.hpp"
#include "cli/commands.hpp"
#include "cli/pyvalue_json.hpp"
#include "core/url_redact.hpp"

namespace sessionctl::cli {

CLI::App* setup_config(CLI::App& parent, ConfigArgs&) {
    CLI::App* cmd = parent.add_subcommand("config", "Print the effective settings and their origin (secrets redacted)");
    cmd->footer(R"(EXAMPLES
  sessionctl config
  sessionctl --config /etc/mysite/sessionctl.json --set SESSION_COOKIE_AGE=3600 config
  sessionctl config --json | jq '.SESSION_ENGINE.value')");
    return cmd;
}

namespace {

bool names_a_secret(std::string key) {
    std::transform(key.begin(), key.end(), key.begin(), [](unsigned char c) { return char(std::toupper(c)); });
    for (const char* word : {"PASSWORD", "SECRET", "TOKEN", "PASSWD"})
        if (key.find(word) != std::string::npos) return true;
    return false;
}

ordered_json redact(const nlohmann::json& value) {
    if (value.is_object()) {
        ordered_json out = ordered_json::object();
        for (auto it = value.begin(); it != value.end(); ++it)
            out[it.key()] =
                names_a_secret(it.key()) && !it.value().is_null() ? ordered_json(kRedacted) : redact(it.value());
        return out;
    }
    if (value.is_array()) {
        ordered_json out = ordered_json::array();
        for (const auto& item : value) out.push_back(redact(item));
        return out;
    }
    // URL userinfo, plus libpq's other places for a password: ?password=
    // in a postgres:// URI and password=... in a conninfo string.
    if (value.is_string()) return redact_connection_text(value.get<std::string>());
    return ordered_json::parse(value.dump());
}

struct Setting {
    ordered_json value;
    std::string origin;
};

Setting describe(const Config& config, const std::string& key) {
    if (key == "SECRET_KEY")
        return {config.has_secret() ? ordered_json(kRedacted) : ordered_json(), config.secret_origin()};
    if (key == "SECRET_KEY_FALLBACKS") {
        std::size_t n = config.has_secret() ? config.secret_keys().fallbacks.size() : config.get(key).size();
        std::string origin = config.origin(key);
        const auto& file = config.get("SECRET_KEY_FALLBACKS_FILE");
        if (file.is_string()) {
            std::string from_file = fmt::format("SECRET_KEY_FALLBACKS_FILE ({})", file.get<std::string>());
            origin = origin == "default" ? from_file : origin + " + " + from_file;
        }
        return {ordered_json(std::vector<std::string>(n, kRedacted)), origin};
    }
    if (Config::is_secret_key(key))  // any secret added to the table later
        return {config.get(key).is_null() ? ordered_json() : ordered_json(kRedacted), config.origin(key)};
    return {redact(config.get(key)), config.origin(key)};
}

// DATABASES TIME_ZONE on a database that stores naive datetimes (SQLite,
// MySQL) decides what expire_date's text means: the settings above show the
// name; this says what it does, checked as every command that opens the
// table checks it (an unknown zone is a warning here, an error there).
void describe_database_zone(const Config& config, Context& ctx) {
    if (!config.get("DATABASES").is_object() || !config.get("DATABASES").contains("default")) return;
    const nlohmann::json db = config.database();
    if (!db.is_object() || !db.contains("TIME_ZONE") || db["TIME_ZONE"].is_null()) return;
    if (db.value("ENGINE", "") != "django.db.backends.sqlite3" && !is_mysql_database(db)) return;
    try {
        auto zone = database_time_zone(db, config.use_tz());
        ctx.out() << fmt::format("# expire_date is stored as the naive wall clock of {} (DATABASES TIME_ZONE)\n",
                                 zone ? zone->name() : std::string("UTC"));
    } catch (const ConfigError& e) {
        ctx.warn(e.what());
    }
}

}  // namespace

ExitCode run_config(const ConfigArgs&, Context& ctx) {
    const Config& config = ctx.config();
    ctx.note(config.file() ? fmt::format("config file: {}", *config.file())
                           : std::string("no config file found: Django's defaults apply"));
    if (ctx.json()) {
        ordered_json j = ordered_json::object();
        for (const auto& key : Config::known_keys()) {
            Setting s = describe(config, key);
            j[key] = ordered_json{{"value", s.value}, {"origin", s.origin}};
        }
        ctx.out() << dump_json(j) << '\n';
    } else {
        for (const auto& key : Config::known_keys()) {
            Setting s = describe(config, key);
            std::string shown = s.value.is_string() && s.value.get<std::string>() == kRedacted ? std::string(kRedacted)
                                                                                               : dump_json(s.value);
            ctx.out() << key << " = " << shown << "  (" << s.origin << ")\n";
        }
        describe_database_zone(config, ctx);
    }
    ctx.out().flush();
    return ExitCode::ok;
}

}  // namespace sessionctl::cli
