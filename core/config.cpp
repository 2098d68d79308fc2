#include "core/config.hpp"

#include <sys/stat.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

namespace sessionctl {
namespace {

using json = nlohmann::json;

enum class Kind { string, string_or_null, string_or_false, integer, boolean, string_list, object };

struct KnownSetting {
    const char* name;
    Kind kind;
    json default_value;
    bool secret;
};

const std::vector<KnownSetting>& settings_table() {
    static const std::vector<KnownSetting> table = {
        {"SESSION_ENGINE", Kind::string, "django.contrib.sessions.backends.db", false},
        {"SECRET_KEY", Kind::string, nullptr, true},
        {"SECRET_KEY_FILE", Kind::string_or_null, nullptr, false},
        {"SECRET_KEY_FALLBACKS", Kind::string_list, json::array(), true},
        {"SECRET_KEY_FALLBACKS_FILE", Kind::string_or_null, nullptr, false},
        {"SESSION_COOKIE_AGE", Kind::integer, 1209600, false},
        {"SESSION_COOKIE_NAME", Kind::string, "sessionid", false},
        {"SESSION_COOKIE_DOMAIN", Kind::string_or_null, nullptr, false},
        {"SESSION_COOKIE_PATH", Kind::string, "/", false},
        {"SESSION_COOKIE_SECURE", Kind::boolean, false, false},
        {"SESSION_COOKIE_HTTPONLY", Kind::boolean, true, false},
        {"SESSION_COOKIE_SAMESITE", Kind::string_or_false, "Lax", false},
        {"SESSION_EXPIRE_AT_BROWSER_CLOSE", Kind::boolean, false, false},
        {"SESSION_FILE_PATH", Kind::string_or_null, nullptr, false},
        {"SESSION_CACHE_ALIAS", Kind::string, "default", false},
        {"SESSION_SERIALIZER", Kind::string, "django.contrib.sessions.serializers.JSONSerializer", false},
        {"SESSION_STORE_CLASS", Kind::string, "SessionStore", false},
        {"DJANGO_VERSION", Kind::string_or_null, nullptr, false},
        {"SESSION_MAX_INFLATED_SIZE", Kind::integer, kDefaultMaxInflatedBytes, false},
        {"USE_TZ", Kind::boolean, true, false},
        {"TIME_ZONE", Kind::string, "America/Chicago", false},
        {"DATABASES", Kind::object,
         json{{"default", {{"ENGINE", "django.db.backends.sqlite3"}, {"NAME", "db.sqlite3"}}}}, false},
        {"AUTH_USER_MODEL", Kind::string, "auth.User", false},
        // Ours: the user model's db_table when it is not Django's default name.
        {"AUTH_USER_TABLE", Kind::string_or_null, nullptr, false},
        {"AUTHENTICATION_BACKENDS", Kind::string_list, json::array({"django.contrib.auth.backends.ModelBackend"}),
         false},
        {"CACHES", Kind::object, json{{"default", {{"BACKEND", "django.core.cache.backends.locmem.LocMemCache"}}}},
         false},
    };
    return table;
}

const KnownSetting* find_setting(const std::string& key) {
    for (const auto& s : settings_table())
        if (key == s.name) return &s;
    return nullptr;
}

const char* kind_name(Kind kind) {
    switch (kind) {
        case Kind::string: return "a string";
        case Kind::string_or_null: return "a string or null";
        case Kind::string_or_false: return "a string, false or null";
        case Kind::integer: return "an integer";
        case Kind::boolean: return "true or false";
        case Kind::string_list: return "a list of strings";
        case Kind::object: return "an object";
    }
    return "?";
}

bool has_kind(const json& v, Kind kind) {
    switch (kind) {
        case Kind::string: return v.is_string();
        case Kind::string_or_null: return v.is_string() || v.is_null();
        case Kind::string_or_false: return v.is_string() || v.is_null() || (v.is_boolean() && !v.get<bool>());
        case Kind::integer: return v.is_number_integer();
        case Kind::boolean: return v.is_boolean();
        case Kind::string_list:
            if (!v.is_array()) return false;
            for (const auto& e : v)
                if (!e.is_string()) return false;
            return true;
        case Kind::object: return v.is_object();
    }
    return false;
}

std::string read_file_or_throw(const std::string& path, const std::string& what) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw ConfigError(fmt::format("cannot read {} {}", what, path));
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

std::string strip(std::string s) {
    while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ' || s.back() == '\t')) s.pop_back();
    std::size_t start = 0;
    while (start < s.size() && (s[start] == ' ' || s[start] == '\t')) ++start;
    return s.substr(start);
}

bool readable_by_others(const std::string& path) {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0 && (st.st_mode & (S_IRGRP | S_IROTH)) != 0;
}

const char* env(const char* name) {
    const char* v = std::getenv(name);
    return v && *v ? v : nullptr;
}

bool file_exists(const std::string& path) {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0;
}

}  // namespace

std::optional<std::string> discover_config_file() {
    if (const char* p = env("SESSIONCTL_CONFIG")) return std::string(p);
    if (file_exists("sessionctl.json")) return std::string("sessionctl.json");
    std::string xdg;
    if (const char* x = env("XDG_CONFIG_HOME")) xdg = x;
    else if (const char* home = env("HOME")) xdg = std::string(home) + "/.config";
    if (!xdg.empty() && file_exists(xdg + "/sessionctl/config.json")) return xdg + "/sessionctl/config.json";
    if (file_exists("/etc/sessionctl/config.json")) return std::string("/etc/sessionctl/config.json");
    return std::nullopt;
}

const std::vector<std::string>& Config::known_keys() {
    static const std::vector<std::string> keys = [] {
        std::vector<std::string> out;
        for (const auto& s : settings_table()) out.emplace_back(s.name);
        return out;
    }();
    return keys;
}

bool Config::is_secret_key(const std::string& key) {
    const KnownSetting* s = find_setting(key);
    return s && s->secret;
}

std::string Config::expand_engine_name(const std::string& name) {
    static const char* shorts[] = {"db", "file", "cache", "cached_db", "signed_cookies"};
    for (const char* s : shorts)
        if (name == s) return std::string("django.contrib.sessions.backends.") + s;
    return name;
}

void Config::set(const std::string& key, json value, const std::string& origin) {
    const KnownSetting* s = find_setting(key);
    if (!s) throw ConfigError(fmt::format("unknown setting '{}' in {}", key, origin));
    if (!has_kind(value, s->kind))
        throw ConfigError(fmt::format("setting '{}' in {} must be {}", key, origin, kind_name(s->kind)));
    values_[key] = std::move(value);
    origins_[key] = origin;
}

Config Config::defaults() {
    Config c;
    for (const auto& s : settings_table()) {
        c.values_[s.name] = s.default_value;
        c.origins_[s.name] = "default";
    }
    c.resolve_secrets();
    return c;
}

Config Config::load(const ConfigSources& sources) {
    Config c;
    for (const auto& s : settings_table()) {
        c.values_[s.name] = s.default_value;
        c.origins_[s.name] = "default";
    }
    c.file_ = sources.config_path ? sources.config_path : discover_config_file();
    if (c.file_) {
        std::string text = read_file_or_throw(*c.file_, "config file");
        json doc;
        try {
            doc = json::parse(text);
        } catch (const json::parse_error& e) {
            // Not e.what(): it quotes the text last read, which may be the secret.
            throw ConfigError(fmt::format("{}: invalid JSON near byte {}", *c.file_, e.byte));
        } catch (const json::exception&) {
            // out_of_range 406: a number beyond a double (e.g. 1e400). Its what()
            // quotes the text too.
            throw ConfigError(fmt::format("{}: invalid JSON: a number is out of range", *c.file_));
        }
        if (!doc.is_object()) throw ConfigError(fmt::format("{}: must hold a JSON object of settings", *c.file_));
        bool holds_secret = false;
        for (auto it = doc.begin(); it != doc.end(); ++it) {
            c.set(it.key(), it.value(), *c.file_);
            if (is_secret_key(it.key()) && !(it.value().is_array() && it.value().empty())) holds_secret = true;
        }
        if (holds_secret && readable_by_others(*c.file_))
            c.warnings_.push_back(fmt::format(
                "{} holds a secret key and is readable by group or others; chmod 600 it or use SECRET_KEY_FILE",
                *c.file_));
    }
    for (const auto& item : sources.overrides) {
        auto eq = item.find('=');
        if (eq == std::string::npos || eq == 0)
            throw ConfigError(fmt::format("--set takes KEY=VALUE, got '{}'", item.substr(0, item.find('='))));
        std::string key = item.substr(0, eq);
        if (is_secret_key(key))
            throw ConfigError(
                fmt::format("{} cannot be given on the command line (it would show in ps); use SECRET_KEY_FILE or "
                            "$SESSIONCTL_SECRET_KEY",
                            key));
        std::string raw = item.substr(eq + 1);
        json value = json::parse(raw, nullptr, /*allow_exceptions=*/false);
        // A bare word is a string, and so is anything given for a string setting
        // (DJANGO_VERSION=3.2 is not the number 3.2).
        const KnownSetting* known = find_setting(key);
        bool wants_string = known && (known->kind == Kind::string || known->kind == Kind::string_or_null);
        if (value.is_discarded() || (wants_string && !value.is_string() && !value.is_null())) value = raw;
        c.set(key, std::move(value), "--set");
    }
    if (sources.engine) c.set("SESSION_ENGINE", expand_engine_name(*sources.engine), "--engine");
    c.values_["SESSION_ENGINE"] = expand_engine_name(c.values_["SESSION_ENGINE"].get<std::string>());
    c.resolve_secrets();
    return c;
}

// A secret file any local user can read is a leaked secret: say so (once),
// but go on, as Django would run with it.
void Config::warn_if_readable_by_others(const std::string& path, const char* setting) {
    if (readable_by_others(path))
        warnings_.push_back(fmt::format("{} {} is readable by group or others; chmod 600 it", setting, path));
}

void Config::resolve_secrets() {
    SecretKeys keys;
    bool have = false;
    const json& key_file = values_["SECRET_KEY_FILE"];
    if (key_file.is_string()) {
        std::string path = key_file.get<std::string>();
        keys.secret_key = strip(read_file_or_throw(path, "SECRET_KEY_FILE"));
        if (keys.secret_key.empty()) throw ConfigError(fmt::format("SECRET_KEY_FILE {} is empty", path));
        warn_if_readable_by_others(path, "SECRET_KEY_FILE");
        secret_origin_ = fmt::format("SECRET_KEY_FILE ({})", path);
        have = true;
    } else if (const char* from_env = env("SESSIONCTL_SECRET_KEY")) {
        keys.secret_key = from_env;
        secret_origin_ = "environment (SESSIONCTL_SECRET_KEY)";
        have = true;
    } else if (values_["SECRET_KEY"].is_string()) {
        keys.secret_key = values_["SECRET_KEY"].get<std::string>();
        secret_origin_ = fmt::format("SECRET_KEY ({})", origins_["SECRET_KEY"]);
        have = true;
    }
    for (const auto& f : values_["SECRET_KEY_FALLBACKS"]) keys.fallbacks.push_back(f.get<std::string>());
    const json& fallbacks_file = values_["SECRET_KEY_FALLBACKS_FILE"];
    if (fallbacks_file.is_string()) {
        std::istringstream lines(read_file_or_throw(fallbacks_file.get<std::string>(), "SECRET_KEY_FALLBACKS_FILE"));
        warn_if_readable_by_others(fallbacks_file.get<std::string>(), "SECRET_KEY_FALLBACKS_FILE");
        for (std::string line; std::getline(lines, line);)
            if (auto k = strip(line); !k.empty()) keys.fallbacks.push_back(k);
    }
    if (have) keys_ = std::move(keys);
}

const json& Config::get(const std::string& key) const {
    static const json null_value;
    auto it = values_.find(key);
    return it == values_.end() ? null_value : it->second;
}

const std::string& Config::origin(const std::string& key) const {
    static const std::string none = "unknown";
    auto it = origins_.find(key);
    return it == origins_.end() ? none : it->second;
}

std::string Config::session_engine() const { return get("SESSION_ENGINE").get<std::string>(); }
std::string Config::cookie_name() const { return get("SESSION_COOKIE_NAME").get<std::string>(); }
bool Config::use_tz() const { return get("USE_TZ").get<bool>(); }
std::string Config::time_zone() const { return get("TIME_ZONE").get<std::string>(); }

SessionSettings Config::session_settings() const {
    std::string serializer = get("SESSION_SERIALIZER").get<std::string>();
    if (serializer != "django.contrib.sessions.serializers.JSONSerializer")
        throw ConfigError(fmt::format("SESSION_SERIALIZER '{}' is not supported (only JSONSerializer)", serializer));
    SessionSettings s;
    s.cookie_age = get("SESSION_COOKIE_AGE").get<std::int64_t>();
    s.expire_at_browser_close = get("SESSION_EXPIRE_AT_BROWSER_CLOSE").get<bool>();
    s.use_tz = use_tz();
    s.store_class_name = get("SESSION_STORE_CLASS").get<std::string>();
    s.series = django_series();
    const std::int64_t max_inflated = get("SESSION_MAX_INFLATED_SIZE").get<std::int64_t>();
    if (max_inflated < 1)
        throw ConfigError(
            fmt::format("SESSION_MAX_INFLATED_SIZE must be a positive number of bytes, got {}", max_inflated));
    s.max_inflated_bytes = static_cast<std::size_t>(max_inflated);
    return s;
}

// DJANGO_VERSION ("3.2", "4.2.16", ...; django.get_version()) picks the rules
// that changed: before 4.1 an ISO-string expiry is not a date. Unset means a
// current Django.
DjangoSeries Config::django_series() const {
    const json& v = get("DJANGO_VERSION");
    if (v.is_null()) return DjangoSeries::current;
    const std::string text = v.get<std::string>();
    unsigned major = 0, minor = 0;
    char dot = 0;
    std::istringstream in(text);
    if (!(in >> major >> dot >> minor) || dot != '.' || major < 3 || (major == 3 && minor < 2))
        throw ConfigError(fmt::format("DJANGO_VERSION {} is not a Django version sessionctl supports (3.2 or later)",
                                      v.dump(-1, ' ', true, json::error_handler_t::replace)));
    return (major < 4 || (major == 4 && minor < 1)) ? DjangoSeries::v3_2 : DjangoSeries::current;
}

json Config::database() const {
    const json& dbs = get("DATABASES");
    if (!dbs.contains("default") || !dbs["default"].is_object())
        throw ConfigError("DATABASES has no \"default\" entry");
    return dbs["default"];
}

const SecretKeys& Config::secret_keys() const {
    if (!keys_)
        throw ConfigError(
            "no secret key configured: set SECRET_KEY_FILE in the config file, or $SESSIONCTL_SECRET_KEY");
    return *keys_;
}

}  // namespace sessionctl
