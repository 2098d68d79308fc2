#include "cli/copy_session.hpp"

#include <algorithm>

#include "backends/users/login_check.hpp"
#include "cli/session_view.hpp"
#include "core/auth_hash.hpp"
#include "core/expiry.hpp"

namespace sessionctl::cli {

namespace {

// The signed session_data the target stores: the source's bytes when the
// target's codec accepts them as Django >= 4.0 would (the current format,
// verified), else the dict signed with the target's SECRET_KEY and salt.
std::string target_session_data(const StoredSession& record, const Store& holder, const DecodeResult& decoded,
                                const CopyPlan& plan) {
    const bool current_format = decoded.format == PayloadFormat::signed_sha256;
    if (holder.records_are_signed_session_data() && current_format) {
        if (plan.same_signing && decoded.key_index == std::size_t{0}) return record.data;
        const DecodeResult on_target = plan.target_env->codec->decode(record.data);
        if (on_target.ok() && on_target.verified && on_target.format == PayloadFormat::signed_sha256)
            return record.data;
    }
    return plan.target_env->codec->encode(decoded.data, plan.target_env->clock->now_seconds());
}

// The login's _auth_user_hash under the target's SECRET_KEY, when the stored
// one is the source's hash of the user's current password (what the source's
// get_user() accepts); nullopt otherwise (no such user, the password changed:
// Django logs that session out on the source too).
std::optional<std::string> rehashed_login(const PyDict& data, const UserTable& users) {
    const auto user_id = session_text(data, SESSION_KEY);
    const PyValue* stored = data.find(HASH_SESSION_KEY);
    if (!user_id || !stored || !stored->is_str()) return std::nullopt;
    const auto user = users.find(*user_id);
    if (!user) return std::nullopt;
    const auto match = users.match_hash(*user, stored->as_str());
    if (!match) return std::nullopt;
    return users.session_auth_hash(*user);
}

}  // namespace

PreparedCopy prepare_copy(const StoredSession& record, const Store& holder, const CopyPlan& plan) {
    PreparedCopy out;
    SessionView view = view_session(record, holder, plan.now);
    switch (filter_verdict(plan.filter, view)) {
        case FilterVerdict::skip: return out;
        case FilterVerdict::unmatchable: out.kind = PreparedCopy::Kind::unmatchable; return out;
        case FilterVerdict::match: break;
    }
    if (view.expired) {
        out.kind = PreparedCopy::Kind::expired;
        return out;
    }
    if (!view.verified_dict) {
        out.kind = PreparedCopy::Kind::undecodable;
        out.error = view.error.value_or("not a verified session");
        return out;
    }
    const PyDict& data = *view.dict();
    out.kind = PreparedCopy::Kind::copy;
    out.write.key = record.key;
    // A store that keeps no expiry of its own for this session (a file whose
    // _session_expiry is a number of seconds, a cache key without TTL) gets
    // the one Django's save() would write now: get_expiry_date().
    if (view.expire_unix_micros) {
        out.write.expires_at_micros = *view.expire_unix_micros;
    } else {
        const PyValue* expiry = data.find(SessionBase::EXPIRY_KEY);
        out.write.expires_at_micros = expiry_date(expiry, plan.now, holder.environment().settings).to_unix_micros();
    }
    out.write.data = data;
    if (!plan.login_hash_survives && data.find(HASH_SESSION_KEY) != nullptr) {
        std::optional<std::string> rehashed;
        if (plan.users) rehashed = rehashed_login(data, *plan.users);
        if (rehashed && *rehashed == data.find(HASH_SESSION_KEY)->as_str()) {
            // Already the target's hash (its key is one the source accepts): kept.
        } else if (rehashed) {
            out.write.data.set(std::string(HASH_SESSION_KEY), PyValue(std::move(*rehashed)));
            out.hash_recomputed = true;
        } else {
            out.login_lost = true;
        }
    }
    if (plan.target_signed) {
        // Data changed here is never the source's bytes: signed anew.
        out.write.signed_data =
            out.hash_recomputed
                ? plan.target_env->codec->encode(PyValue(out.write.data), plan.target_env->clock->now_seconds())
                : target_session_data(record, holder, view.decoded, plan);
    }
    return out;
}

bool signs_alike(const SecretKeys& source, const SecretKeys& target, const SessionSettings& source_settings,
                 const SessionSettings& target_settings) {
    return source.secret_key == target.secret_key &&
           session_key_salt(source_settings.store_class_name) == session_key_salt(target_settings.store_class_name);
}

bool login_hash_survives(const SecretKeys& source, const SecretKeys& target, DjangoSeries target_series) {
    if (source.secret_key == target.secret_key) return true;
    // Django >= 4.1 accepts a hash made with a fallback (and rewrites it).
    return target_series == DjangoSeries::current &&
           std::find(target.fallbacks.begin(), target.fallbacks.end(), source.secret_key) != target.fallbacks.end();
}

UserTableOptions user_table_options(const SecretKeys& source, DjangoSeries source_series, const SecretKeys& target) {
    UserTableOptions options;
    options.secrets.push_back(target.secret_key);
    options.secrets.push_back(source.secret_key);
    if (source_series == DjangoSeries::v3_2) {
        options.accept_sha1 = true;  // 3.2 accepts the legacy sha1 hash, and no fallbacks
        options.sha1_secret = 1;
    } else {
        options.secrets.insert(options.secrets.end(), source.fallbacks.begin(), source.fallbacks.end());
    }
    return options;
}

}  // namespace sessionctl::cli
