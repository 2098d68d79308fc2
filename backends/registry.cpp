#include "backends/registry.hpp"

#include <fmt/format.h>

#include "backends/cache/cache_engine.hpp"
#include "backends/cache/cache_target.hpp"
#include "backends/cached_db_engine.hpp"
#include "backends/file/file_engine.hpp"
#include "backends/mysql/mysql_settings.hpp"
#include "backends/mysql/mysql_users.hpp"
#include "backends/postgres/pg_dsn.hpp"
#include "backends/postgres/pg_users.hpp"
#include "backends/signed_cookies_engine.hpp"
#include "backends/sql/db_engine.hpp"
#include "backends/sqlite/sqlite_table.hpp"
#include "backends/sqlite/sqlite_users.hpp"

namespace sessionctl {
namespace {

// The db engine's store from DATABASES["default"] (also the db half of cached_db).
std::unique_ptr<DbStore> open_db_store(const Config& config, std::shared_ptr<const SessionEnvironment> env,
                                       const StoreOptions& options) {
    nlohmann::json db = config.database();
    if (is_postgresql_database(db))
        return std::make_unique<DbStore>(
            std::move(env), open_pg_table_for(db, config.use_tz(), config.time_zone(),
                                              options.access == Access::read_only, options.create_if_missing));
    if (is_mysql_database(db))
        return std::make_unique<DbStore>(
            std::move(env),
            open_mysql_table_for(db, config.use_tz(), options.access == Access::read_only, options.create_if_missing));
    std::string engine = db.value("ENGINE", "");
    if (engine != "django.db.backends.sqlite3")
        throw ConfigError(
            fmt::format("DATABASES[\"default\"][\"ENGINE\"] '{}' is not supported yet (only "
                        "django.db.backends.sqlite3, django.db.backends.postgresql and django.db.backends.mysql)",
                        engine));
    auto table =
        open_sqlite_table_for(db, config.use_tz(), options.access == Access::read_only, options.create_if_missing);
    return std::make_unique<DbStore>(std::move(env), std::move(table));
}

std::unique_ptr<Store> open_db(const Config& config, std::shared_ptr<const SessionEnvironment> env,
                               const StoreOptions& options) {
    return open_db_store(config, std::move(env), options);
}

std::unique_ptr<Store> open_cache(const Config& config, std::shared_ptr<const SessionEnvironment> env,
                                  const StoreOptions&) {
    return std::make_unique<CacheStore>(std::move(env), open_cache_target(config));
}

std::unique_ptr<Store> open_cached_db(const Config& config, std::shared_ptr<const SessionEnvironment> env,
                                      const StoreOptions& options) {
    auto db = open_db_store(config, env, options);
    return std::make_unique<CachedDbStore>(std::move(env), std::move(db), open_cache_target(config));
}

std::unique_ptr<Store> open_signed_cookies(const Config& config, std::shared_ptr<const SessionEnvironment> env,
                                           const StoreOptions&) {
    return std::make_unique<SignedCookiesStore>(std::move(env), config.secret_keys());
}

}  // namespace

const std::vector<EngineEntry>& engine_registry() {
    static const std::vector<EngineEntry> registry = {
        {kDbEngine, "django_session table (SQLite, PostgreSQL, MySQL/MariaDB)", open_db},
        {kFileEngine, "one file per session in SESSION_FILE_PATH",
         [](const Config& config, std::shared_ptr<const SessionEnvironment> env,
            const StoreOptions& options) -> std::unique_ptr<Store> {
             FileStoreOptions file;
             // SESSION_FILE_PATH null (or "") -> tempfile.gettempdir(), as Django.
             const nlohmann::json& path = config.get("SESSION_FILE_PATH");
             if (path.is_string()) file.directory = path.get<std::string>();
             file.prefix = config.cookie_name();
             file.read_only = options.access == Access::read_only;
             file.create_directory = options.create_if_missing;
             file.failed_writes_are_errors = true;  // sessionctl never reports an unsaved session as done
             return std::make_unique<FileStore>(std::move(env), std::move(file));
         },
         /*expiry_needs_secret=*/true},
        {kCacheEngine, "Redis or memcached via CACHES", open_cache},
        {kCachedDbEngine, "cache (CACHES) in front of the db table", open_cached_db},
        {kSignedCookiesEngine, "the session lives in the browser's cookie (inspect, create)", open_signed_cookies},
    };
    return registry;
}

std::string redact_connection_text(std::string_view text) { return redact_pg_dsn(text); }

const EngineEntry* find_engine(std::string_view engine) {
    for (const auto& entry : engine_registry())
        if (entry.engine == engine) return &entry;
    return nullptr;
}

std::unique_ptr<Store> open_store(const Config& config, std::shared_ptr<const SessionEnvironment> env,
                                  const StoreOptions& options) {
    std::string engine = config.session_engine();
    if (const EngineEntry* entry = find_engine(engine)) return entry->open(config, std::move(env), options);
    throw ConfigError(fmt::format("unknown SESSION_ENGINE '{}'", engine));
}

std::string store_identity(const Config& config) {
    const std::string engine = config.session_engine();
    std::string identity = engine;
    const bool uses_db = engine == kDbEngine || engine == kCachedDbEngine;
    const bool uses_cache = engine == kCacheEngine || engine == kCachedDbEngine;
    if (uses_db) {
        nlohmann::json db = config.database();
        identity += "|db:" + db.value("ENGINE", "") + "|" + db.value("NAME", nlohmann::json()).dump() + "|" +
                    db.value("HOST", nlohmann::json()).dump() + "|" + db.value("PORT", nlohmann::json()).dump();
    }
    if (uses_cache) {
        const nlohmann::json& alias_json = config.get("SESSION_CACHE_ALIAS");
        const std::string alias = alias_json.is_string() ? alias_json.get<std::string>() : "default";
        const nlohmann::json& caches = config.get("CACHES");
        nlohmann::json entry = caches.is_object() && caches.contains(alias) ? caches[alias] : nlohmann::json();
        if (entry.is_object()) {
            identity += "|cache:" + entry.value("LOCATION", nlohmann::json()).dump() + "|" +
                        entry.value("KEY_PREFIX", nlohmann::json("")).dump() + "|" +
                        entry.value("VERSION", nlohmann::json(1)).dump();
        }
    }
    if (engine == kFileEngine)
        identity += "|file:" + config.get("SESSION_FILE_PATH").dump() + "|" + config.cookie_name();
    return identity;
}

std::unique_ptr<UserSource> open_user_source(const Config& config) {
    UserTableLocation where = user_table_location(config);
    if (is_postgresql_database(where.database))
        return open_pg_users(where.database, config.use_tz(), config.time_zone(), where.table);
    if (is_mysql_database(where.database)) return open_mysql_users(where.database, config.use_tz(), where.table);
    std::string engine = where.database.value("ENGINE", "");
    if (engine != "django.db.backends.sqlite3")
        throw ConfigError(
            fmt::format("reading users from DATABASES[\"default\"][\"ENGINE\"] '{}' is not supported "
                        "yet (only django.db.backends.sqlite3, django.db.backends.postgresql and "
                        "django.db.backends.mysql)",
                        engine));
    return open_sqlite_users(where.database, where.table);
}

}  // namespace sessionctl
