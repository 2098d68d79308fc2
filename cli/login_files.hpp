#pragma once

// The files `create --storage-state` and `--cookie-jar` write: a session
// cookie as end-to-end test tools load it (Playwright's storage state,
// the Netscape cookie file curl, wget and http.cookiejar read), with the
// attributes Django's SessionMiddleware would set from SESSION_COOKIE_*.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/config.hpp"

namespace sessionctl::cli {

struct SessionCookie {
    std::string name;
    std::string value;
    std::string domain;  // SESSION_COOKIE_DOMAIN, else the --url host
    std::string path = "/";
    std::optional<std::int64_t> expires;  // unix seconds; nullopt: until the browser closes
    bool http_only = true;
    bool secure = false;
    std::string same_site = "Lax";  // Playwright's "Strict", "Lax" or "None"
};

// The cookie for `session_key` under `config`'s SESSION_COOKIE_* settings.
// Throws UsageError (exit 2) when neither SESSION_COOKIE_DOMAIN nor `url`
// gives a domain, or `url` has no host.
[[nodiscard]] SessionCookie session_cookie(const Config& config, std::string session_key,
                                           std::optional<std::int64_t> expires, const std::optional<std::string>& url);

// The host of an http(s) URL ("https://user@app.test:8443/x" -> "app.test").
[[nodiscard]] std::optional<std::string> url_host(std::string_view url);

// {"cookies": [{name, value, domain, path, expires (-1: browser close),
// httpOnly, secure, sameSite}], "origins": []}
[[nodiscard]] std::string playwright_storage_state(const SessionCookie& cookie);
// "# Netscape HTTP Cookie File" and one line (#HttpOnly_ prefixed when
// HttpOnly, expiry 0 for a browser-close cookie, as curl writes them).
[[nodiscard]] std::string netscape_cookie_jar(const SessionCookie& cookie);

// Writes `content` to `path` with mode 0600 (it holds a live login): a
// temporary file in the same directory, renamed over `path` once complete.
// Throws CliError (exit 2) naming the path when it cannot.
void write_private_file(const std::string& path, std::string_view content, std::string_view what);

}  // namespace sessionctl::cli
