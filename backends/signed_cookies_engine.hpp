#pragma once

// django.contrib.sessions.backends.signed_cookies (docs/django-sessions.md §9): the session is the
// cookie value itself, signing.dumps(dict, salt=kSignedCookiesSalt,
// compress=True), valid for SESSION_COOKIE_AGE seconds after it was signed.
// sessionctl can read a cookie value (inspect COOKIE) and mint one (create);
// there is nothing on a server to list, delete or clear: such sessions live in
// browsers and are only invalidated by rotating SECRET_KEY. Those operations
// throw ConfigError (exit 2) saying so.

#include <memory>

#include "backends/store.hpp"
#include "core/session_codec.hpp"

namespace sessionctl {

inline constexpr std::string_view kSignedCookiesEngine = "django.contrib.sessions.backends.signed_cookies";

// The explanation every impossible operation gives.
[[nodiscard]] std::string signed_cookies_cannot(std::string_view what);

class SignedCookiesStore final : public Store {
public:
    SignedCookiesStore(std::shared_ptr<const SessionEnvironment> env, SecretKeys keys);

    [[nodiscard]] std::string_view engine() const override { return kSignedCookiesEngine; }
    [[nodiscard]] const SessionEnvironment& environment() const override { return *env_; }
    [[nodiscard]] std::unique_ptr<SessionBase> open(std::optional<std::string> session_key) override;
    // The "record" of a cookie value is the value itself (any value: whether it
    // verifies is decode_record's business).
    [[nodiscard]] std::optional<StoredSession> fetch(std::string_view key) override;
    void scan(const std::function<bool(const StoredSession&)>& visit) override;
    // Older than SESSION_COOKIE_AGE (Django's max_age), or unreadable.
    [[nodiscard]] bool is_expired(const StoredSession& record, const DateTime& now) const override;
    BulkResult clear_expired(DryRun dry_run, bool want_keys) override;
    BulkResult remove(const std::vector<StoredSession>& records, bool want_keys) override;
    // Throws StoreError: the sessions live in browsers' cookies, not here.
    std::vector<WriteOutcome> write_sessions(const std::vector<SessionWrite>& batch, WriteMode mode) override;
    // Verified with the signed_cookies salt and max_age = SESSION_COOKIE_AGE.
    [[nodiscard]] DecodeResult decode_record(const StoredSession& record) const override;
    [[nodiscard]] bool records_are_signed_session_data() const override { return false; }  // cookie salt

    [[nodiscard]] const SessionCodec& codec() const { return codec_; }

private:
    std::shared_ptr<const SessionEnvironment> env_;
    SessionCodec codec_;
};

}  // namespace sessionctl
