#pragma once

// SESSION_ENGINE -> store factory: the one table that decides what a config
// opens, and that `sessionctl --version` lists.

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "backends/store.hpp"
#include "backends/users/user_source.hpp"
#include "core/config.hpp"

namespace sessionctl {

enum class Access { read_only, read_write };

struct StoreOptions {
    Access access = Access::read_write;
    // Create the database and Django's table when missing (demo and tests only).
    bool create_if_missing = false;
};

struct EngineEntry {
    std::string_view engine;   // Django's SESSION_ENGINE
    std::string_view summary;  // what it stores where
    std::function<std::unique_ptr<Store>(const Config&, std::shared_ptr<const SessionEnvironment>, const StoreOptions&)>
        open;
    // Whether deciding expiry reads signed session data, so clear_expired
    // needs the secret (the file engine: _session_expiry is inside the
    // data, the mtime is the only expiry outside it).
    bool expiry_needs_secret = false;
};

[[nodiscard]] const std::vector<EngineEntry>& engine_registry();
// `text` with every password a store's connection string can carry
// replaced (URL userinfo, ?password= in a postgres:// URI, password=... in a
// libpq conninfo): for showing settings.
[[nodiscard]] std::string redact_connection_text(std::string_view text);
// The entry of a SESSION_ENGINE; nullptr when unknown.
[[nodiscard]] const EngineEntry* find_engine(std::string_view engine);

// A text naming the store a configuration opens (engine, database, cache
// location and key prefix, session directory), equal for two configurations
// only when they open the same store: copy refuses to copy a store onto itself.
[[nodiscard]] std::string store_identity(const Config& config);

// Opens the store SESSION_ENGINE names. Throws ConfigError for an unknown or
// unsupported engine, StoreError/StoreUnavailable when the store can't be used.
[[nodiscard]] std::unique_ptr<Store> open_store(const Config& config, std::shared_ptr<const SessionEnvironment> env,
                                                const StoreOptions& options = {});

// The user table (AUTH_USER_MODEL or AUTH_USER_TABLE) in DATABASES["default"],
// whatever SESSION_ENGINE is: file and cache sites keep their users in a
// database too. Read-only. Throws ConfigError for a database engine that has
// no user reader, StoreMissing/StoreUnavailable as opening a store does.
[[nodiscard]] std::unique_ptr<UserSource> open_user_source(const Config& config);

}  // namespace sessionctl
