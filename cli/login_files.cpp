#include "cli/login_files.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <vector>

#include <fmt/format.h>

#include "cli/exit_codes.hpp"
#include "cli/pyvalue_json.hpp"

namespace sessionctl::cli {

std::optional<std::string> url_host(std::string_view url) {
    const auto scheme = url.find("://");
    if (scheme == std::string_view::npos) return std::nullopt;
    std::string_view rest = url.substr(scheme + 3);
    rest = rest.substr(0, rest.find_first_of("/?#"));
    if (const auto at = rest.rfind('@'); at != std::string_view::npos) rest.remove_prefix(at + 1);
    std::string_view host;
    if (!rest.empty() && rest.front() == '[') {
        const auto close = rest.find(']');
        if (close == std::string_view::npos) return std::nullopt;
        host = rest.substr(1, close - 1);
    } else {
        host = rest.substr(0, rest.find(':'));
    }
    if (host.empty()) return std::nullopt;
    std::string lower;
    for (char c : host) lower += static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
    return lower;
}

SessionCookie session_cookie(const Config& config, std::string session_key, std::optional<std::int64_t> expires,
                             const std::optional<std::string>& url) {
    SessionCookie cookie;
    cookie.name = config.cookie_name();
    cookie.value = std::move(session_key);
    const nlohmann::json& domain = config.get("SESSION_COOKIE_DOMAIN");
    if (domain.is_string() && !domain.get<std::string>().empty()) {
        cookie.domain = domain.get<std::string>();
    } else if (url) {
        auto host = url_host(*url);
        if (!host) throw UsageError(fmt::format("--url {} has no host (give http://HOST[:PORT]/)", *url));
        cookie.domain = *host;
    } else {
        throw UsageError("the cookie needs a domain: set SESSION_COOKIE_DOMAIN or give --url (the site's address)");
    }
    cookie.path = config.get("SESSION_COOKIE_PATH").get<std::string>();
    cookie.expires = expires;
    cookie.http_only = config.get("SESSION_COOKIE_HTTPONLY").get<bool>();
    cookie.secure = config.get("SESSION_COOKIE_SECURE").get<bool>();
    // Without a SameSite attribute (SESSION_COOKIE_SAMESITE None or False)
    // browsers treat the cookie as Lax; Playwright needs a value.
    const nlohmann::json& same_site = config.get("SESSION_COOKIE_SAMESITE");
    if (same_site.is_string()) {
        std::string value = same_site.get<std::string>();
        for (auto& c : value) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        if (value == "strict") cookie.same_site = "Strict";
        else if (value == "none") cookie.same_site = "None";
        else if (value == "lax") cookie.same_site = "Lax";
        else throw UsageError("SESSION_COOKIE_SAMESITE must be 'Lax', 'Strict', 'None' or false");
    }
    return cookie;
}

std::string playwright_storage_state(const SessionCookie& cookie) {
    ordered_json c = ordered_json::object();
    c["name"] = cookie.name;
    c["value"] = cookie.value;
    c["domain"] = cookie.domain;
    c["path"] = cookie.path;
    c["expires"] = cookie.expires ? *cookie.expires : -1;
    c["httpOnly"] = cookie.http_only;
    c["secure"] = cookie.secure;
    c["sameSite"] = cookie.same_site;
    ordered_json state = ordered_json::object();
    state["cookies"] = ordered_json::array({c});
    state["origins"] = ordered_json::array();
    return state.dump(2) + '\n';
}

std::string netscape_cookie_jar(const SessionCookie& cookie) {
    // domain, include subdomains (TRUE exactly when the domain starts with a
    // dot: http.cookiejar insists), path, secure, expires, name, value.
    const bool subdomains = !cookie.domain.empty() && cookie.domain.front() == '.';
    return fmt::format(
        "# Netscape HTTP Cookie File\n# Written by sessionctl: it holds a live login.\n\n"
        "{}{}\t{}\t{}\t{}\t{}\t{}\t{}\n",
        cookie.http_only ? "#HttpOnly_" : "", cookie.domain, subdomains ? "TRUE" : "FALSE", cookie.path,
        cookie.secure ? "TRUE" : "FALSE", cookie.expires.value_or(0), cookie.name, cookie.value);
}

void write_private_file(const std::string& path, std::string_view content, std::string_view what) {
    const auto slash = path.rfind('/');
    const std::string dir = slash == std::string::npos ? std::string(".") : path.substr(0, slash + 1);
    std::string temp = (slash == std::string::npos ? std::string() : dir) + ".sessionctl-XXXXXX";
    std::vector<char> name(temp.begin(), temp.end());
    name.push_back('\0');
    auto fail = [&](const char* doing) {
        const int error = errno;
        throw CliError(ExitCode::usage, fmt::format("cannot {} {} {}: {}", doing, what, path, std::strerror(error)));
    };
    const int fd = ::mkstemp(name.data());  // mode 0600
    if (fd < 0) fail("write");
    const std::string temp_path(name.data());
    bool ok = ::fchmod(fd, 0600) == 0;
    std::size_t written = 0;
    while (ok && written < content.size()) {
        const ssize_t n = ::write(fd, content.data() + written, content.size() - written);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) ok = false;
        else written += static_cast<std::size_t>(n);
    }
    if (ok) ok = ::fsync(fd) == 0;
    const int saved = errno;
    ::close(fd);
    if (!ok || ::rename(temp_path.c_str(), path.c_str()) != 0) {
        const int error = ok ? errno : saved;
        ::unlink(temp_path.c_str());
        errno = error;
        fail("write");
    }
}

}  // namespace sessionctl::cli
