#pragma once

// sessionctl's configuration: a JSON file whose keys are Django's own setting
// names, layered as
//   Django's defaults  <  the config file  <  --set KEY=VALUE  <  --engine
// and the secret from SECRET_KEY_FILE, else $SESSIONCTL_SECRET_KEY, else
// SECRET_KEY in the file (never from the command line).

#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/secret_keys.hpp"
#include "core/session_settings.hpp"

namespace sessionctl {

// A usage or configuration problem (exit code 2); the message names the key
// or file, never a secret.
class ConfigError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

struct ConfigSources {
    std::optional<std::string> config_path;  // --config
    std::vector<std::string> overrides;      // --set KEY=VALUE, in order
    std::optional<std::string> engine;       // --engine
};

// Where the file came from when not named: $SESSIONCTL_CONFIG, ./sessionctl.json,
// $XDG_CONFIG_HOME/sessionctl/config.json (or ~/.config/...), /etc/sessionctl/config.json.
[[nodiscard]] std::optional<std::string> discover_config_file();

class Config {
public:
    // Reads the layers; throws ConfigError naming the key or file at fault.
    [[nodiscard]] static Config load(const ConfigSources& sources);
    // Django's defaults only, plus the secret from the environment if set.
    [[nodiscard]] static Config defaults();

    // The effective value of a known setting (null when unset).
    [[nodiscard]] const nlohmann::json& get(const std::string& key) const;
    // Where it came from: "default", a file path, "--set", "--engine", "environment".
    [[nodiscard]] const std::string& origin(const std::string& key) const;
    // Every known key in a stable order, for `sessionctl config`.
    [[nodiscard]] static const std::vector<std::string>& known_keys();
    [[nodiscard]] static bool is_secret_key(const std::string& key);

    [[nodiscard]] std::string session_engine() const;  // full dotted name
    [[nodiscard]] SessionSettings session_settings() const;
    [[nodiscard]] DjangoSeries django_series() const;
    [[nodiscard]] std::string cookie_name() const;
    [[nodiscard]] bool use_tz() const;
    [[nodiscard]] std::string time_zone() const;
    // The database for the db engines: DATABASES["default"].
    [[nodiscard]] nlohmann::json database() const;
    // Throws ConfigError when no secret is configured.
    [[nodiscard]] const SecretKeys& secret_keys() const;
    [[nodiscard]] bool has_secret() const { return keys_.has_value(); }
    [[nodiscard]] const std::string& secret_origin() const { return secret_origin_; }
    [[nodiscard]] const std::optional<std::string>& file() const { return file_; }
    // Warnings to show once (e.g. a readable config file holding a secret).
    [[nodiscard]] const std::vector<std::string>& warnings() const { return warnings_; }

    // Short engine names ("db", "file", "cache", "cached_db", "signed_cookies")
    // to Django's dotted names; other strings are returned unchanged.
    [[nodiscard]] static std::string expand_engine_name(const std::string& name);

private:
    void set(const std::string& key, nlohmann::json value, const std::string& origin);
    void resolve_secrets();
    void warn_if_readable_by_others(const std::string& path, const char* setting);

    std::map<std::string, nlohmann::json> values_;
    std::map<std::string, std::string> origins_;
    std::optional<SecretKeys> keys_;
    std::string secret_origin_ = "unset";
    std::optional<std::string> file_;
    std::vector<std::string> warnings_;
};

}  // namespace sessionctl
