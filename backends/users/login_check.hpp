#pragma once

// django.contrib.auth.get_user() judged offline: whether Django would still
// accept a session's login, and if so with which key's hash. Django 4.1+
// accepts an _auth_user_hash made with SECRET_KEY or any of
// SECRET_KEY_FALLBACKS (and re-hashes it with SECRET_KEY on the next
// request); 3.2 accepts SECRET_KEY's sha256 or sha1 hash only.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "backends/users/user_table.hpp"
#include "core/config.hpp"
#include "core/pyvalue.hpp"

namespace sessionctl {

// Why Django would no longer accept a login (the --dead rules).
enum class DeadReason {
    backend_removed,   // _auth_user_backend missing or not in AUTHENTICATION_BACKENDS
    user_gone,         // no row with that primary key
    user_inactive,     // is_active false, under a backend that checks it
    password_changed,  // _auth_user_hash missing or matching no key's hash of the current password
};

// "user gone", "user inactive", ...: how inspect --dead says it.
[[nodiscard]] const char* to_string(DeadReason reason);

struct LoginVerdict {
    std::string user_id;             // _auth_user_id as text
    std::optional<DeadReason> dead;  // nullopt: Django accepts it
    std::optional<HashMatch> hash;   // the key whose hash the session holds (when it matched one)
    std::optional<UserTable::User> user;
};

// What get_user() reads of a session, as texts: _auth_user_id (a str, or an
// int in decimal), and _auth_user_backend and _auth_user_hash when they are
// strs (nullopt otherwise, which get_user() treats as missing).
struct LoginFields {
    std::optional<std::string_view> user_id;
    std::optional<std::string_view> backend;
    std::optional<std::string_view> hash;
};

// A session's value under `key` as get_user() reads _auth_user_id: a str as
// it is, an int in decimal; nullopt when missing or of another type.
[[nodiscard]] std::optional<std::string> session_text(const PyDict& session, std::string_view key);

// The secrets a session auth hash may be made with under `config`
// (DJANGO_VERSION decides whether fallbacks count and sha1 does).
[[nodiscard]] UserTableOptions auth_hash_options(const Config& config);

class LoginChecker {
public:
    LoginChecker(const UserTable& users, std::vector<std::string> authentication_backends);
    // From AUTHENTICATION_BACKENDS.
    LoginChecker(const UserTable& users, const Config& config);

    // nullopt for an anonymous session (no _auth_user_id): never dead.
    [[nodiscard]] std::optional<LoginVerdict> check(const PyDict& session) const;
    // The same on fields read some other way (the scan prefilter reads them
    // from the JSON text without parsing it).
    [[nodiscard]] std::optional<LoginVerdict> check(const LoginFields& fields) const;

private:
    const UserTable& users_;
    std::vector<std::string> backends_;
};

// Whether a backend's get_user() refuses inactive users: ModelBackend and
// its subclasses do (user_can_authenticate); the AllowAllUsers ones do not.
[[nodiscard]] bool backend_checks_is_active(std::string_view backend);

}  // namespace sessionctl
