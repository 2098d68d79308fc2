#include "backends/signed_cookies_engine.hpp"

#include <fmt/format.h>

#include "core/config.hpp"
#include "core/errors.hpp"

namespace sessionctl {

std::string signed_cookies_cannot(std::string_view what) {
    return fmt::format(
        "{} is impossible with the signed_cookies engine: its sessions live in the browsers' cookies, "
        "not on a server; they can only be invalidated all at once by rotating SECRET_KEY (without "
        "keeping the old key in SECRET_KEY_FALLBACKS)",
        what);
}

namespace {

class SignedCookieSession final : public SessionBase {
public:
    SignedCookieSession(std::optional<std::string> key, std::shared_ptr<const SessionEnvironment> env,
                        const SignedCookiesStore& store)
        : SessionBase(key, std::move(env)), store_(store), opened_with_cookie_(key.has_value()) {}

    // A cookie value is never "taken": Django's exists() is always False.
    bool exists(std::string_view) override { return false; }
    // Django: create() only marks the session modified (the cookie is written
    // by the response).
    void create() override {
        set_modified(true);
        // Django computes the value when the response is written; sessionctl's
        // create has no response, so a new session gets its cookie value now.
        if (!opened_with_cookie_) set_session_key(encode_now(session_data_without_load()));
    }
    void save(bool) override {
        // Rewriting a cookie the browser holds is impossible from here: the new
        // value would reach no browser (expire, update).
        if (opened_with_cookie_) throw ConfigError(signed_cookies_cannot("changing an existing session"));
        set_session_key(encode_now(session_data()));
        set_modified(true);
    }
    void delete_session(const std::optional<std::string>& key) override {
        if (key) throw ConfigError(signed_cookies_cannot("deleting a session"));
        set_session_key(std::nullopt);
        set_session_cache({});
        set_modified(true);
    }
    // Any failure (bad signature, expired, garbage) -> create() and {}.
    PyDict load() override {
        StoredSession record{*session_key(), *session_key(), std::nullopt};
        DecodeResult r = store_.decode_record(record);
        if (r.ok() && r.data.is_dict()) return r.data.as_dict();
        create();
        return {};
    }
    void clear_expired() override {}

private:
    std::string encode_now(const PyDict& data) const {
        return store_.codec().encode(PyValue(data), environment().clock->now_micros() / 1'000'000);
    }

    const SignedCookiesStore& store_;
    bool opened_with_cookie_;
};

}  // namespace

SignedCookiesStore::SignedCookiesStore(std::shared_ptr<const SessionEnvironment> env, SecretKeys keys)
    : env_(std::move(env)), codec_(std::move(keys), std::string(kSignedCookiesSalt)) {}

std::unique_ptr<SessionBase> SignedCookiesStore::open(std::optional<std::string> session_key) {
    return std::make_unique<SignedCookieSession>(std::move(session_key), env_, *this);
}

std::optional<StoredSession> SignedCookiesStore::fetch(std::string_view key) {
    StoredSession record{std::string(key), std::string(key), std::nullopt};
    // The signing time of a value that verifies (an unverified one's is noise).
    DecodeResult r = codec_.decode(key);
    if (r.verified && r.timestamp)
        record.expire_date =
            DateTime::now((*r.timestamp + env_->settings.cookie_age) * 1'000'000, env_->settings.use_tz);
    return record;
}

void SignedCookiesStore::scan(const std::function<bool(const StoredSession&)>&) {
    throw ConfigError(signed_cookies_cannot("listing sessions"));
}

bool SignedCookiesStore::is_expired(const StoredSession& record, const DateTime&) const {
    return decode_record(record).status == DecodeStatus::expired;
}

BulkResult SignedCookiesStore::clear_expired(DryRun, bool) {
    throw ConfigError(signed_cookies_cannot("clearing expired sessions"));
}

BulkResult SignedCookiesStore::remove(const std::vector<StoredSession>&, bool) {
    throw ConfigError(signed_cookies_cannot("deleting sessions"));
}

DecodeResult SignedCookiesStore::decode_record(const StoredSession& record) const {
    DecodeOptions options;
    options.max_age = env_->settings.cookie_age;
    options.now = static_cast<double>(env_->clock->now_micros()) / 1e6;
    return codec_.decode(record.data, options);
}

std::vector<WriteOutcome> SignedCookiesStore::write_sessions(const std::vector<SessionWrite>&, WriteMode) {
    throw StoreError(
        "the signed_cookies engine keeps sessions in the browsers' cookies: there is no store to write to");
}

}  // namespace sessionctl
