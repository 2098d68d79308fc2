#include "backends/redis/redis_endpoint.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <string_view>

#include <fmt/format.h>

#include "core/config.hpp"
#include "core/url_redact.hpp"
#include "util/text.hpp"

namespace sessionctl {
namespace {

std::string percent_decode(std::string_view text) {
    std::string out;
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] == '%' && i + 2 < text.size() && hex_value(text[i + 1]) >= 0 && hex_value(text[i + 2]) >= 0) {
            out.push_back(static_cast<char>(hex_value(text[i + 1]) * 16 + hex_value(text[i + 2])));
            i += 2;
        } else {
            out.push_back(text[i]);
        }
    }
    return out;
}

int parse_int(std::string_view text, const char* what) {
    if (text.empty() || text.size() > 9 ||
        !std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; }))
        throw ConfigError(fmt::format("CACHES LOCATION: {} '{}' is not a number", what, text));
    return std::atoi(std::string(text).c_str());
}

std::string lower(std::string text) {
    std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return char(std::tolower(c)); });
    return text;
}

// redis-py's to_bool for URL query values: "0", "F", "FALSE", "N", "NO" are false.
bool query_bool(const std::string& value) {
    const std::string v = lower(value);
    return !(v == "0" || v == "f" || v == "false" || v == "n" || v == "no");
}

// ssl_cert_reqs: redis-py's strings, None, or Python's ssl.CERT_* numbers
// (json.dumps writes ssl.CERT_NONE as 0). Returns whether to verify.
bool cert_reqs_verify(const nlohmann::json& v, const char* where) {
    if (v.is_null()) return false;
    if (v.is_string()) {
        const std::string s = lower(v.get<std::string>());
        if (s == "required" || s == "optional" || s == "ssl.cert_required" || s == "ssl.cert_optional") return true;
        if (s == "none" || s == "ssl.cert_none") return false;
    } else if (v.is_number_integer()) {
        const auto n = v.get<std::int64_t>();
        if (n == 0) return false;
        if (n == 1 || n == 2) return true;
    }
    throw ConfigError(
        fmt::format("{} ssl_cert_reqs {} is not one of \"required\", \"optional\", \"none\" or null", where, v.dump()));
}

// ssl_min_version: an ssl.TLSVersion (json.dumps writes its number, 771 for
// TLSv1_2; redis-py parses the URL's as an int) or its name.
int tls_version(const nlohmann::json& v, const char* where) {
    struct Named {
        const char* name;
        int value;
    };
    static constexpr Named kVersions[] = {{"tlsv1", 0x0301},   {"tlsv1_1", 0x0302}, {"tlsv1_2", 0x0303},
                                          {"tlsv1_3", 0x0304}, {"tlsv1.1", 0x0302}, {"tlsv1.2", 0x0303},
                                          {"tlsv1.3", 0x0304}, {"tlsv1.0", 0x0301}, {"minimum_supported", 0}};
    if (v.is_null()) return 0;
    if (v.is_number_integer()) {
        const auto n = v.get<std::int64_t>();
        if (n == -2) return 0;  // TLSVersion.MINIMUM_SUPPORTED
        for (const auto& known : kVersions)
            if (known.value == n && n != 0) return static_cast<int>(n);
    } else if (v.is_string()) {
        std::string s = lower(v.get<std::string>());
        for (const char* prefix : {"ssl.tlsversion.", "tlsversion."})
            if (s.starts_with(prefix)) s.erase(0, std::string_view(prefix).size());
        if (!s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; }))
            return tls_version(nlohmann::json(std::atoll(s.c_str())), where);
        for (const auto& known : kVersions)
            if (s == known.name) return known.value;
    }
    throw ConfigError(
        fmt::format("{} ssl_min_version {} is not a TLS version (ssl.TLSVersion.TLSv1_2 is 771)", where, v.dump()));
}

std::string path_option(const nlohmann::json& v, const std::string& name, const char* where) {
    if (v.is_null()) return {};
    if (!v.is_string()) throw ConfigError(fmt::format("{} {} must be a path (a string)", where, name));
    return v.get<std::string>();
}

// One ssl_* keyword argument; false when `name` is not one.
bool apply_tls_option(RedisTls& tls, const std::string& name, const nlohmann::json& v, const char* where) {
    if (name == "ssl_cert_reqs") {
        tls.verify = cert_reqs_verify(v, where);
    } else if (name == "ssl_check_hostname") {
        if (v.is_boolean()) tls.check_hostname = v.get<bool>();
        else if (v.is_string()) tls.check_hostname = query_bool(v.get<std::string>());
        else if (!v.is_null()) throw ConfigError(fmt::format("{} ssl_check_hostname must be true or false", where));
    } else if (name == "ssl_ca_certs") tls.ca_certs = path_option(v, name, where);
    else if (name == "ssl_ca_path") tls.ca_path = path_option(v, name, where);
    else if (name == "ssl_ca_data") tls.ca_data = path_option(v, name, where);
    else if (name == "ssl_certfile") tls.certfile = path_option(v, name, where);
    else if (name == "ssl_keyfile") tls.keyfile = path_option(v, name, where);
    else if (name == "ssl_ciphers") tls.ciphers = path_option(v, name, where);
    else if (name == "ssl_min_version") tls.min_version = tls_version(v, where);
    else if (name == "ssl_password") {
        if (v.is_null()) tls.key_password.reset();
        else if (v.is_string()) tls.key_password = v.get<std::string>();
        else throw ConfigError(fmt::format("{} ssl_password must be a string", where));
    } else if (name == "ssl_validate_ocsp" || name == "ssl_validate_ocsp_stapled") {
        if (v.is_boolean() && !v.get<bool>()) return true;
        if (v.is_string() && !query_bool(v.get<std::string>())) return true;
        throw ConfigError(fmt::format("{} {}: OCSP checking is not supported by sessionctl", where, name));
    } else {
        return false;
    }
    return true;
}

// The query string: db / password / username (redis-py reads them from the
// URL) and the ssl_* options.
void apply_query(RedisEndpoint& ep, std::string_view query) {
    while (!query.empty()) {
        auto amp = query.find('&');
        std::string_view pair = query.substr(0, amp);
        query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
        auto eq = pair.find('=');
        std::string name(pair.substr(0, eq));
        std::string value = eq == std::string_view::npos ? std::string() : percent_decode(pair.substr(eq + 1));
        if (value.empty()) continue;  // redis-py skips empty values
        if (name == "db") ep.db = parse_int(value, "db");
        else if (name == "password") ep.password = value;
        else if (name == "username") ep.username = value;
        else if (name == "socket_timeout" || name == "socket_connect_timeout") {
            char* end = nullptr;
            const double seconds = std::strtod(value.c_str(), &end);
            if (end == value.c_str() || *end != '\0' || !(seconds > 0))
                throw ConfigError(fmt::format("CACHES LOCATION: {} '{}' is not a positive number", name, value));
            (name == "socket_timeout" ? ep.command_timeout : ep.connect_timeout) =
                std::chrono::milliseconds(std::llround(seconds * 1000));
        } else if (name.starts_with("ssl_")) {
            (void)apply_tls_option(ep.tls, name, nlohmann::json(value), "CACHES LOCATION");
        }
    }
}

std::chrono::milliseconds seconds_option(const nlohmann::json& value, const char* name) {
    if (!value.is_number() || value.get<double>() <= 0)
        throw ConfigError(fmt::format("CACHES OPTIONS {} must be a positive number of seconds", name));
    return std::chrono::milliseconds(std::llround(value.get<double>() * 1000));
}

std::string first_location(const nlohmann::json& cache) {
    const nlohmann::json location = cache.value("LOCATION", nlohmann::json());
    if (location.is_string()) {
        std::string all = location.get<std::string>();
        return all.substr(0, all.find_first_of(";,"));
    }
    if (location.is_array() && !location.empty() && location.front().is_string())
        return location.front().get<std::string>();
    throw ConfigError("CACHES LOCATION must be a redis:// URL (or a list of them)");
}

constexpr std::string_view kDjangoRedis = "django_redis.cache.RedisCache";

// Where the backend takes redis-py's connection keyword arguments from:
// RedisCache passes OPTIONS to the pool; django-redis its
// CONNECTION_POOL_KWARGS.
nlohmann::json pool_kwargs(const nlohmann::json& cache, const nlohmann::json& options, const char*& where) {
    if (cache.value("BACKEND", "") != kDjangoRedis) {
        where = "CACHES OPTIONS";
        return options;
    }
    where = "CACHES OPTIONS CONNECTION_POOL_KWARGS";
    nlohmann::json kwargs = options.value("CONNECTION_POOL_KWARGS", nlohmann::json::object());
    if (kwargs.is_null()) return nlohmann::json::object();
    if (!kwargs.is_object()) throw ConfigError("CACHES OPTIONS CONNECTION_POOL_KWARGS must be an object");
    return kwargs;
}

// OPTIONS' password, username, db and timeouts (both backends' spellings).
void apply_connection_options(RedisEndpoint& ep, const nlohmann::json& options) {
    for (auto it = options.begin(); it != options.end(); ++it) {
        const std::string& name = it.key();
        const nlohmann::json& v = it.value();
        if (name == "password" || name == "PASSWORD") {
            if (v.is_null()) continue;
            if (!v.is_string()) throw ConfigError(fmt::format("CACHES OPTIONS {} must be a string", name));
            ep.password = v.get<std::string>();
        } else if (name == "username" || name == "USERNAME") {
            if (!v.is_string()) throw ConfigError(fmt::format("CACHES OPTIONS {} must be a string", name));
            ep.username = v.get<std::string>();
        } else if (name == "db" || name == "DB") {
            if (!v.is_number_integer()) throw ConfigError(fmt::format("CACHES OPTIONS {} must be an integer", name));
            ep.db = v.get<int>();
        } else if (name == "socket_connect_timeout" || name == "SOCKET_CONNECT_TIMEOUT") {
            ep.connect_timeout = seconds_option(v, name.c_str());
        } else if (name == "socket_timeout" || name == "SOCKET_TIMEOUT") {
            ep.command_timeout = seconds_option(v, name.c_str());
        }
        // Other options (pool classes, parser, retry policy) change nothing stored.
    }
}

nlohmann::json options_of(const nlohmann::json& cache) {
    nlohmann::json options = cache.value("OPTIONS", nlohmann::json::object());
    if (options.is_null()) return nlohmann::json::object();
    if (!options.is_object()) throw ConfigError("CACHES OPTIONS must be an object");
    return options;
}

}  // namespace

std::string RedisEndpoint::description() const {
    std::string auth;
    if (password) auth = fmt::format("{}:{}@", username, kRedacted);
    else if (!username.empty()) auth = username + "@";
    if (!unix_path.empty()) return fmt::format("unix://{}{}?db={}", auth, unix_path, db);
    const bool ipv6 = host.find(':') != std::string::npos;
    return fmt::format("{}://{}{}{}{}:{}/{}{}", tls.enabled ? "rediss" : "redis", auth, ipv6 ? "[" : "", host,
                       ipv6 ? "]" : "", port, db, via.empty() ? "" : " (" + via + ")");
}

void apply_tls_options(RedisTls& tls, const nlohmann::json& options, const char* where) {
    if (!options.is_object()) return;
    for (auto it = options.begin(); it != options.end(); ++it)
        if (it.key().starts_with("ssl_")) (void)apply_tls_option(tls, it.key(), it.value(), where);
}

RedisEndpoint parse_redis_url(const std::string& url, const RedisEndpoint& base) {
    RedisEndpoint ep = base;
    std::string_view rest(url);
    bool unix_socket = false;
    if (rest.starts_with("redis://")) rest.remove_prefix(8);
    else if (rest.starts_with("rediss://")) {
        rest.remove_prefix(9);
        ep.tls.enabled = true;
    } else if (rest.starts_with("unix://")) {
        rest.remove_prefix(7);
        unix_socket = true;
    } else {
        throw ConfigError(
            fmt::format("CACHES LOCATION '{}' is not a redis://, rediss:// or unix:// URL", redact_url(url)));
    }
    std::string_view query;
    if (auto q = rest.find('?'); q != std::string_view::npos) {
        query = rest.substr(q + 1);
        rest = rest.substr(0, q);
    }
    // userinfo ends at the last '@' (a password may contain '@').
    if (auto at = rest.rfind('@'); at != std::string_view::npos &&
                                   (unix_socket || rest.find('/') > at || rest.find('/') == std::string_view::npos)) {
        std::string_view userinfo = rest.substr(0, at);
        rest = rest.substr(at + 1);
        auto colon = userinfo.find(':');
        if (colon == std::string_view::npos) {
            // redis-py: "redis://secret@host" is a username only; Redis treats it as such.
            ep.username = percent_decode(userinfo);
        } else {
            ep.username = percent_decode(userinfo.substr(0, colon));
            ep.password = percent_decode(userinfo.substr(colon + 1));
        }
    }
    if (unix_socket) {
        if (rest.empty() || rest.front() != '/')
            throw ConfigError(
                fmt::format("CACHES LOCATION '{}': unix:// needs an absolute socket path", redact_url(url)));
        ep.unix_path = percent_decode(rest);
        ep.host.clear();
    } else {
        std::string_view hostport = rest.substr(0, rest.find('/'));
        std::string_view path =
            rest.find('/') == std::string_view::npos ? std::string_view{} : rest.substr(rest.find('/') + 1);
        if (!hostport.empty() && hostport.front() == '[') {  // [::1]:6379
            auto close = hostport.find(']');
            if (close == std::string_view::npos)
                throw ConfigError(fmt::format("CACHES LOCATION '{}': unclosed '['", redact_url(url)));
            ep.host = std::string(hostport.substr(1, close - 1));
            hostport = hostport.substr(close + 1);
            if (hostport.starts_with(":")) ep.port = parse_int(hostport.substr(1), "port");
        } else {
            auto colon = hostport.rfind(':');
            if (colon != std::string_view::npos) {
                ep.port = parse_int(hostport.substr(colon + 1), "port");
                hostport = hostport.substr(0, colon);
            }
            if (!hostport.empty()) ep.host = percent_decode(hostport);
        }
        if (!path.empty()) ep.db = parse_int(path, "db");
    }
    apply_query(ep, query);
    return ep;
}

RedisEndpoint redis_endpoint_from_cache_config(const nlohmann::json& cache) {
    const nlohmann::json options = options_of(cache);
    const char* where = "CACHES OPTIONS";
    RedisEndpoint base;
    const nlohmann::json kwargs = pool_kwargs(cache, options, where);
    apply_tls_options(base.tls, kwargs, where);
    RedisEndpoint ep = parse_redis_url(first_location(cache), base);
    apply_connection_options(ep, options);
    // django-redis lays CONNECTION_POOL_KWARGS over its own settings.
    if (cache.value("BACKEND", "") == kDjangoRedis) apply_connection_options(ep, kwargs);
    return ep;
}

RedisTarget redis_target_from_cache_config(const nlohmann::json& cache) {
    RedisTarget target{redis_endpoint_from_cache_config(cache), std::nullopt};
    const nlohmann::json options = options_of(cache);
    const nlohmann::json sentinels = options.value("SENTINELS", nlohmann::json());
    if (sentinels.is_null()) return target;
    if (cache.value("BACKEND", "") != kDjangoRedis)
        throw ConfigError("CACHES OPTIONS SENTINELS: only django-redis (django_redis.cache.RedisCache) uses Sentinel");
    if (!target.endpoint.unix_path.empty())
        throw ConfigError("CACHES LOCATION: with SENTINELS it is redis://SERVICE/DB, not a unix:// path");
    if (!sentinels.is_array() || sentinels.empty())
        throw ConfigError("CACHES OPTIONS SENTINELS must be a list of (host, port)");
    RedisSentinelSettings settings;
    settings.service = target.endpoint.host;  // redis://SERVICE/DB: the host part names the service
    for (const auto& s : sentinels) {
        if (s.is_array() && s.size() == 2 && s[0].is_string() && s[1].is_number_integer()) {
            settings.sentinels.emplace_back(s[0].get<std::string>(), s[1].get<int>());
        } else if (s.is_string() && s.get<std::string>().rfind(':') != std::string::npos) {
            const std::string text = s.get<std::string>();
            const auto colon = text.rfind(':');
            settings.sentinels.emplace_back(text.substr(0, colon), parse_int(text.substr(colon + 1), "port"));
        } else {
            throw ConfigError(fmt::format("CACHES OPTIONS SENTINELS: {} is not a (host, port) pair", s.dump()));
        }
    }
    // How to talk to the sentinels: SENTINEL_KWARGS, else (as redis-py's
    // Sentinel) only the server's socket_* settings.
    RedisEndpoint& to_sentinel = settings.sentinel_template;
    const nlohmann::json kwargs = options.value("SENTINEL_KWARGS", nlohmann::json());
    to_sentinel.connect_timeout = target.endpoint.connect_timeout;
    to_sentinel.command_timeout = target.endpoint.command_timeout;
    if (!kwargs.is_null()) {
        if (!kwargs.is_object()) throw ConfigError("CACHES OPTIONS SENTINEL_KWARGS must be an object");
        apply_connection_options(to_sentinel, kwargs);
        const nlohmann::json ssl = kwargs.value("ssl", nlohmann::json(false));
        to_sentinel.tls.enabled = ssl.is_boolean() && ssl.get<bool>();
        apply_tls_options(to_sentinel.tls, kwargs, "CACHES OPTIONS SENTINEL_KWARGS");
    }
    target.sentinel = std::move(settings);
    return target;
}

}  // namespace sessionctl
