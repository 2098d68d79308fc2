#include "core/session_base.hpp"

#include "core/errors.hpp"

#include <fmt/format.h>

#include "core/expiry.hpp"
#include "core/session_key.hpp"

namespace sessionctl {

std::shared_ptr<const SessionEnvironment> SessionEnvironment::make(SessionSettings settings, SecretKeys keys,
                                                                   std::shared_ptr<const Clock> clock) {
    auto env = std::make_shared<SessionEnvironment>();
    env->codec = std::make_shared<SessionCodec>(std::move(keys), session_key_salt(settings.store_class_name),
                                                settings.store_class_name, settings.max_inflated_bytes);
    env->settings = std::move(settings);
    env->clock = clock ? std::move(clock) : std::make_shared<SystemClock>();
    return env;
}

SessionBase::SessionBase(std::optional<std::string> session_key, std::shared_ptr<const SessionEnvironment> env)
    : env_(std::move(env)) {
    set_session_key(std::move(session_key));
}

PyDict& SessionBase::session_data() {
    accessed_ = true;
    if (!cache_) cache_ = session_key_ ? load() : PyDict{};
    return *cache_;
}

PyDict& SessionBase::session_data_without_load() {
    accessed_ = true;
    if (!cache_) cache_ = PyDict{};
    return *cache_;
}

bool SessionBase::contains(std::string_view key) { return session_data().contains(key); }

const PyValue& SessionBase::at(std::string_view key) {
    const PyValue* v = session_data().find(key);
    if (!v) throw KeyError(std::string(key));
    return *v;
}

void SessionBase::set(std::string key, PyValue value) {
    session_data().set(std::move(key), std::move(value));
    modified_ = true;
}

void SessionBase::erase(std::string_view key) {
    if (!session_data().erase(key)) throw KeyError(std::string(key));
    modified_ = true;
}

PyValue SessionBase::get(std::string_view key, PyValue default_value) {
    const PyValue* v = session_data().find(key);
    return v ? *v : default_value;
}

PyValue SessionBase::pop(std::string_view key) {
    PyDict& data = session_data();
    const PyValue* v = data.find(key);
    if (!v) throw KeyError(std::string(key));
    PyValue out = *v;
    data.erase(key);
    modified_ = true;
    return out;
}

PyValue SessionBase::pop(std::string_view key, PyValue default_value) {
    PyDict& data = session_data();
    const PyValue* v = data.find(key);
    if (!v) return default_value;
    PyValue out = *v;
    data.erase(key);
    modified_ = true;
    return out;
}

PyValue SessionBase::setdefault(std::string key, PyValue value) {
    PyDict& data = session_data();
    if (const PyValue* v = data.find(key)) return *v;
    modified_ = true;
    data.set(std::move(key), value);
    return value;
}

void SessionBase::update(const PyDict& values) {
    PyDict& data = session_data();
    for (const auto& e : values) data.set(e.key, e.value);
    modified_ = true;
}

std::vector<std::string> SessionBase::keys() {
    std::vector<std::string> out;
    for (const auto& e : session_data()) out.push_back(e.key);
    return out;
}

std::vector<PyValue> SessionBase::values() {
    std::vector<PyValue> out;
    for (const auto& e : session_data()) out.push_back(e.value);
    return out;
}

std::vector<std::pair<std::string, PyValue>> SessionBase::items() {
    std::vector<std::pair<std::string, PyValue>> out;
    for (const auto& e : session_data()) out.emplace_back(e.key, e.value);
    return out;
}

void SessionBase::clear() {
    // Django replaces the cache instead of loading it first.
    cache_ = PyDict{};
    accessed_ = true;
    modified_ = true;
}

bool SessionBase::is_empty() const { return !session_key_ && (!cache_ || cache_->empty()); }

void SessionBase::set_test_cookie() { set(std::string(TEST_COOKIE_NAME), PyValue(TEST_COOKIE_VALUE)); }

bool SessionBase::test_cookie_worked() { return get(TEST_COOKIE_NAME) == PyValue(TEST_COOKIE_VALUE); }

void SessionBase::delete_test_cookie() { erase(TEST_COOKIE_NAME); }

std::string SessionBase::encode(const PyDict& session_dict) const {
    return env_->codec->encode(PyValue(session_dict), env_->clock->now_seconds());
}

DecodeResult SessionBase::decode(std::string_view session_data) const { return env_->codec->decode(session_data); }

PyDict SessionBase::session_dict_from(const DecodeResult& result) {
    if (result.ok() && result.verified && result.data.is_dict()) return result.data.as_dict();
    return {};
}

std::int64_t SessionBase::get_session_cookie_age() const { return env_->settings.cookie_age; }

namespace {
SessionSettings with_cookie_age(SessionSettings s, std::int64_t age) {
    s.cookie_age = age;
    return s;
}
}  // namespace

PyValue SessionBase::get_expiry_age(const ExpiryQuery& query) {
    DateTime modification = query.modification ? *query.modification : now();
    PyValue stored = query.expiry ? *query.expiry : get(EXPIRY_KEY);
    return expiry_age(stored.is_none() ? nullptr : &stored, modification,
                      with_cookie_age(env_->settings, get_session_cookie_age()));
}

DateTime SessionBase::get_expiry_date(const ExpiryQuery& query) {
    DateTime modification = query.modification ? *query.modification : now();
    PyValue stored = query.expiry ? *query.expiry : get(EXPIRY_KEY);
    return expiry_date(stored.is_none() ? nullptr : &stored, modification,
                       with_cookie_age(env_->settings, get_session_cookie_age()));
}

void SessionBase::set_expiry(const ExpiryValue& value) {
    if (std::holds_alternative<std::monostate>(value)) {
        if (contains(EXPIRY_KEY)) erase(EXPIRY_KEY);
        return;
    }
    if (const auto* seconds = std::get_if<std::int64_t>(&value)) {
        set(std::string(EXPIRY_KEY), PyValue(*seconds));
        return;
    }
    DateTime when = std::holds_alternative<DateTime>(value) ? std::get<DateTime>(value)
                                                            : now().plus_micros(std::get<ExpiryDuration>(value).micros);
    set(std::string(EXPIRY_KEY), PyValue(when.isoformat()));
}

bool SessionBase::get_expire_at_browser_close() {
    PyValue stored = get(EXPIRY_KEY);
    return expire_at_browser_close(stored.is_none() ? nullptr : &stored, env_->settings);
}

void SessionBase::flush() {
    clear();
    delete_session();
    session_key_.reset();
}

void SessionBase::cycle_key() {
    PyDict data = session_data();
    std::optional<std::string> old_key = session_key_;
    create();
    cache_ = std::move(data);
    if (old_key) delete_session(old_key);
}

std::string SessionBase::key_salt() const { return session_key_salt(env_->settings.store_class_name); }

std::string SessionBase::get_new_session_key() {
    for (;;) {
        std::string key = random_string(SESSION_KEY_LENGTH, VALID_KEY_CHARS);
        if (!exists(key)) return key;
    }
}

std::string SessionBase::get_or_create_session_key() {
    if (!session_key_) session_key_ = get_new_session_key();
    return *session_key_;
}

void SessionBase::set_session_key(std::optional<std::string> key) {
    if (key && is_valid_session_key(*key)) session_key_ = std::move(key);
    else session_key_.reset();
}

bool SessionBase::create_by_saving(std::optional<int> max_attempts) {
    for (int attempt = 0; !max_attempts || attempt < *max_attempts; ++attempt) {
        set_session_key(get_new_session_key());
        try {
            save(/*must_create=*/true);
        } catch (const CreateError&) {
            continue;
        }
        set_modified(true);
        return true;
    }
    return false;
}

}  // namespace sessionctl
