#pragma once

// django.contrib.sessions.backends.base.SessionBase: the dict API, lazy load,
// accessed/modified flags, expiry, keys, flush/cycle_key, test cookie and
// encode/decode. A store subclasses it and supplies exists/create/save/
// delete/load (and clear_expired, which Django makes a classmethod).

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "core/clock.hpp"
#include "core/datetime.hpp"
#include "core/pyvalue.hpp"
#include "core/session_codec.hpp"
#include "core/session_settings.hpp"

namespace sessionctl {

// Python's KeyError from the dict API.
class KeyError : public std::out_of_range {
public:
    using std::out_of_range::out_of_range;
};

// What a store needs from the site's settings, shared by its sessions.
struct SessionEnvironment {
    SessionSettings settings;
    std::shared_ptr<const SessionCodec> codec;  // built with session_key_salt(settings.store_class_name)
    std::shared_ptr<const Clock> clock;

    [[nodiscard]] static std::shared_ptr<const SessionEnvironment> make(SessionSettings settings, SecretKeys keys,
                                                                        std::shared_ptr<const Clock> clock);
    // timezone.now()
    [[nodiscard]] DateTime now() const { return DateTime::now(clock->now_micros(), settings.use_tz); }
};

// The argument of set_expiry(): None, seconds (int; 0 = at browser close),
// a timedelta (microseconds) or a datetime.
struct ExpiryDuration {
    std::int64_t micros;
};
using ExpiryValue = std::variant<std::monostate, std::int64_t, ExpiryDuration, DateTime>;

// Keyword arguments of get_expiry_age/get_expiry_date.
struct ExpiryQuery {
    std::optional<DateTime> modification;  // default: now
    std::optional<PyValue> expiry;         // default: the session's _session_expiry (None = absent)
};

class SessionBase {
public:
    static constexpr std::string_view TEST_COOKIE_NAME = "testcookie";
    static constexpr std::string_view TEST_COOKIE_VALUE = "worked";
    static constexpr std::string_view EXPIRY_KEY = "_session_expiry";

    SessionBase(std::optional<std::string> session_key, std::shared_ptr<const SessionEnvironment> env);
    virtual ~SessionBase() = default;
    SessionBase(const SessionBase&) = delete;
    SessionBase& operator=(const SessionBase&) = delete;

    // --- dict API (each marks accessed; writes mark modified) ---
    [[nodiscard]] bool contains(std::string_view key);  // `key in session`
    [[nodiscard]] bool has_key(std::string_view key) { return contains(key); }
    [[nodiscard]] const PyValue& at(std::string_view key);  // session[key]; throws KeyError
    void set(std::string key, PyValue value);               // session[key] = value
    void erase(std::string_view key);                       // del session[key]; throws KeyError
    [[nodiscard]] PyValue get(std::string_view key, PyValue default_value = {});
    PyValue pop(std::string_view key);  // throws KeyError
    PyValue pop(std::string_view key, PyValue default_value);
    PyValue setdefault(std::string key, PyValue value);
    void update(const PyDict& values);
    [[nodiscard]] std::vector<std::string> keys();
    [[nodiscard]] std::vector<PyValue> values();
    [[nodiscard]] std::vector<std::pair<std::string, PyValue>> items();
    void clear();
    // True when there is no session key and nothing was loaded or set.
    [[nodiscard]] bool is_empty() const;
    explicit operator bool() const { return !is_empty(); }

    // --- test cookie ---
    void set_test_cookie();
    [[nodiscard]] bool test_cookie_worked();
    void delete_test_cookie();

    // --- encoding ---
    [[nodiscard]] std::string encode(const PyDict& session_dict) const;
    // Never collapses a failure into {}: see DecodeResult. Stores that must
    // behave like Django (load) use session_dict_from().
    [[nodiscard]] DecodeResult decode(std::string_view session_data) const;
    // What Django's decode() hands to the session: the dict, or {} for anything
    // that is not a verified dict.
    [[nodiscard]] static PyDict session_dict_from(const DecodeResult& result);

    // --- expiry ---
    [[nodiscard]] virtual std::int64_t get_session_cookie_age() const;
    [[nodiscard]] PyValue get_expiry_age(const ExpiryQuery& query = {});
    [[nodiscard]] DateTime get_expiry_date(const ExpiryQuery& query = {});
    void set_expiry(const ExpiryValue& value);
    [[nodiscard]] bool get_expire_at_browser_close();

    // --- lifecycle ---
    // Remove the current session data and key; the store record is deleted.
    void flush();
    // Keep the data under a new key; the old record is deleted.
    void cycle_key();

    [[nodiscard]] const std::optional<std::string>& session_key() const { return session_key_; }
    [[nodiscard]] bool accessed() const { return accessed_; }
    [[nodiscard]] bool modified() const { return modified_; }
    [[nodiscard]] std::string key_salt() const;
    [[nodiscard]] static std::string_view serializer() { return "django.contrib.sessions.serializers.JSONSerializer"; }
    [[nodiscard]] const SessionEnvironment& environment() const { return *env_; }

    // --- the store's half ---
    // Whether a record exists for the key (ignoring expiry on the db engine).
    [[nodiscard]] virtual bool exists(std::string_view session_key) = 0;
    // Save under a new, unused key; retries on collision (CreateError).
    virtual void create() = 0;
    // must_create: insert or throw CreateError. Otherwise update, or throw
    // UpdateError when the record is gone; never resurrect it.
    virtual void save(bool must_create = false) = 0;
    // Delete the record of `session_key`, or of this session's key; no error
    // when missing.
    virtual void delete_session(const std::optional<std::string>& session_key = std::nullopt) = 0;
    // The stored dict of this session's key; {} (and the key reset) when
    // missing, expired or undecodable. Never creates a record.
    virtual PyDict load() = 0;
    // Remove expired records (Django's classmethod, delegated to the store).
    virtual void clear_expired() = 0;

protected:
    // The body every engine's create() shares in Django: a new key, then
    // save(must_create=True), again with another key on CreateError (the key
    // was taken meanwhile); modified on success. With `max_attempts`, gives up
    // after that many and returns false (the cache engine's RuntimeError).
    bool create_by_saving(std::optional<int> max_attempts = std::nullopt);

    // The lazily loaded dict (SessionBase._session); marks accessed.
    PyDict& session_data();
    // SessionBase._get_session(no_load=True)
    PyDict& session_data_without_load();
    [[nodiscard]] bool has_loaded_data() const { return cache_.has_value(); }

    [[nodiscard]] std::string get_new_session_key();
    std::string get_or_create_session_key();
    // The validated setter (_session_key = value): invalid keys become None.
    void set_session_key(std::optional<std::string> key);
    void set_session_cache(PyDict data) { cache_ = std::move(data); }
    void set_modified(bool modified) { modified_ = modified; }
    [[nodiscard]] DateTime now() const { return env_->now(); }

private:
    std::optional<std::string> session_key_;
    std::optional<PyDict> cache_;
    bool accessed_ = false;
    bool modified_ = false;
    std::shared_ptr<const SessionEnvironment> env_;
};

}  // namespace sessionctl
