// DATABASES["default"] for django.db.backends.sqlite3, read as Django reads it.

#include <cmath>

#include <fmt/format.h>

#include "backends/sql/db_time_zone.hpp"
#include "backends/sqlite/sqlite_table.hpp"
#include "core/config.hpp"
#include "core/errors.hpp"

namespace sessionctl {

std::unique_ptr<SqliteTable> open_sqlite_table_for(const nlohmann::json& db, bool use_tz, bool read_only,
                                                   bool create_if_missing) {
    if (!db.contains("NAME") || !db["NAME"].is_string() || db["NAME"].get<std::string>().empty())
        throw ConfigError("DATABASES[\"default\"][\"NAME\"] must be the path of the SQLite file");
    SqliteOptions sqlite;
    sqlite.read_only = read_only;
    sqlite.create_if_missing = create_if_missing;
    // Django passes OPTIONS to sqlite3.connect(); its "timeout" (seconds, default 5)
    // is how long a writer waits for the lock.
    if (db.contains("OPTIONS") && db["OPTIONS"].is_object() && db["OPTIONS"].contains("timeout")) {
        const auto& t = db["OPTIONS"]["timeout"];
        if (!t.is_number()) throw ConfigError("DATABASES[\"default\"][\"OPTIONS\"][\"timeout\"] must be a number");
        sqlite.busy_timeout_ms = static_cast<int>(std::lround(t.get<double>() * 1000));
    }
    sqlite.zone = database_time_zone(db, use_tz);
    return open_sqlite_table(db["NAME"].get<std::string>(), sqlite);
}

}  // namespace sessionctl
