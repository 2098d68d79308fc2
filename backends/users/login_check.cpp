#include "backends/users/login_check.hpp"

#include <algorithm>

#include "core/auth_hash.hpp"

namespace sessionctl {
namespace {

std::vector<std::string> backends_of(const Config& config) {
    std::vector<std::string> out;
    for (const auto& b : config.get("AUTHENTICATION_BACKENDS")) out.push_back(b.get<std::string>());
    return out;
}

}  // namespace

std::optional<std::string> session_text(const PyDict& session, std::string_view key) {
    const PyValue* value = session.find(key);
    if (!value) return std::nullopt;
    if (value->is_str()) return value->as_str();
    if (value->is_int()) return std::to_string(value->as_int());
    if (value->is_bigint()) return value->as_bigint().decimal;
    return std::nullopt;
}

const char* to_string(DeadReason reason) {
    switch (reason) {
        case DeadReason::backend_removed: return "backend removed";
        case DeadReason::user_gone: return "user gone";
        case DeadReason::user_inactive: return "user inactive";
        case DeadReason::password_changed: return "password changed";
    }
    return "?";
}

UserTableOptions auth_hash_options(const Config& config) {
    const SecretKeys& keys = config.secret_keys();
    UserTableOptions options;
    options.secrets.push_back(keys.secret_key);
    if (config.django_series() == DjangoSeries::v3_2) {
        options.accept_sha1 = true;  // no fallbacks before 4.1
    } else {
        for (const auto& fallback : keys.fallbacks) options.secrets.push_back(fallback);
    }
    return options;
}

bool backend_checks_is_active(std::string_view backend) {
    return backend.find("AllowAllUsers") == std::string_view::npos;
}

LoginChecker::LoginChecker(const UserTable& users, std::vector<std::string> authentication_backends)
    : users_(users), backends_(std::move(authentication_backends)) {}

LoginChecker::LoginChecker(const UserTable& users, const Config& config) : LoginChecker(users, backends_of(config)) {}

std::optional<LoginVerdict> LoginChecker::check(const PyDict& session) const {
    const auto user_id = session_text(session, SESSION_KEY);
    if (!user_id) return std::nullopt;
    LoginFields fields;
    fields.user_id = *user_id;
    if (const PyValue* backend = session.find(BACKEND_SESSION_KEY); backend && backend->is_str())
        fields.backend = backend->as_str();
    if (const PyValue* hash = session.find(HASH_SESSION_KEY); hash && hash->is_str()) fields.hash = hash->as_str();
    return check(fields);
}

std::optional<LoginVerdict> LoginChecker::check(const LoginFields& fields) const {
    if (!fields.user_id) return std::nullopt;
    LoginVerdict verdict;
    verdict.user_id = std::string(*fields.user_id);
    // get_user(): the backend first (a KeyError or an unknown one: anonymous),
    // then backend.get_user(pk), then the hash.
    if (!fields.backend || std::find(backends_.begin(), backends_.end(), *fields.backend) == backends_.end()) {
        verdict.dead = DeadReason::backend_removed;
        return verdict;
    }
    verdict.user = users_.find(*fields.user_id);
    if (!verdict.user) {
        verdict.dead = DeadReason::user_gone;
        return verdict;
    }
    if (backend_checks_is_active(*fields.backend) && !users_.is_active(*verdict.user)) {
        verdict.dead = DeadReason::user_inactive;
        return verdict;
    }
    if (fields.hash) verdict.hash = users_.match_hash(*verdict.user, *fields.hash);
    if (!verdict.hash) verdict.dead = DeadReason::password_changed;
    return verdict;
}

}  // namespace sessionctl
