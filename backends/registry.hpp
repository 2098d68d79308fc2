#pragma once

// SESSION_ENGINE -> store factory: the one table that decides what a config
// opens, and that `sessionctl --version` lists.

#include <functional>
#include <memory>
#include <string_view>
#include <vector>

#include "backends/db_engine.hpp"
#include "backends/store.hpp"
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
    std::function<std::unique_ptr<Store>(const Config&, std::shared_ptr<const SessionEnvironment>,
                                          const StoreOptions&)>
        open;  // empty when not built yet
};

[[nodiscard]] const std::vector<EngineEntry>& engine_registry();

// The db engine's store from DATABASES["default"] (also the db half of cached_db).
[[nodiscard]] std::unique_ptr<DbStore> open_db_store(const Config& config, std::shared_ptr<const SessionEnvironment> env,
                                                     const StoreOptions& options);

// Opens the store SESSION_ENGINE names. Throws ConfigError for an unknown or
// unsupported engine, StoreError/StoreUnavailable when the store can't be used.
[[nodiscard]] std::unique_ptr<Store> open_store(const Config& config, std::shared_ptr<const SessionEnvironment> env,
                                                const StoreOptions& options = {});

}  // namespace sessionctl
