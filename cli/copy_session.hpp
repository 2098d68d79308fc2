#pragma once

// What `sessionctl copy` decides for one source record, apart from any
// store I/O so that it runs on the scan's worker threads: is it a session to
// copy (verified dict, live, selected), what does the target store get (the
// dict, its expiry as an instant, and for the engines that keep signed data
// either the source's bytes, when the target's codec accepts them as they
// are, or the dict signed with the target's secret and salt), and will its
// login survive a change of SECRET_KEY (with the user table at hand, its
// _auth_user_hash is made anew with the target's key).

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "backends/store.hpp"
#include "backends/users/user_table.hpp"
#include "cli/matchers.hpp"
#include "core/config.hpp"

namespace sessionctl::cli {

// What stays the same for every record of one copy.
struct CopyPlan {
    SessionFilter filter;  // empty: every session
    DateTime now;          // the source's timezone.now() when the copy started
    std::shared_ptr<const SessionEnvironment> target_env;
    // The target keeps signed session_data (db, file, cached_db), not pickles.
    bool target_signed = false;
    // Source and target sign alike (same secret keys and salt): a record the
    // source verified with its SECRET_KEY is valid on the target as it is.
    bool same_signing = false;
    // Whether the target accepts an _auth_user_hash made with the source's
    // SECRET_KEY (the same SECRET_KEY, or on Django >= 4.1 one of its
    // SECRET_KEY_FALLBACKS).
    bool login_hash_survives = true;
    // When it does not and the user table could be read: each user's session
    // auth hash under the target's SECRET_KEY (secrets[0]) and the source's
    // keys after it (user_table_options()). nullptr: logins are lost.
    const UserTable* users = nullptr;
};

struct PreparedCopy {
    enum class Kind {
        not_selected,  // --user/--where do not match
        unmatchable,   // a filter was given and the record cannot be verified
        expired,       // Django would not load it: not copied
        undecodable,   // no filter, and the record is no verified dict
        copy,
    };
    Kind kind = Kind::not_selected;
    SessionWrite write;            // Kind::copy
    bool login_lost = false;       // has _auth_user_hash the target will refuse
    bool hash_recomputed = false;  // _auth_user_hash made anew with the target's SECRET_KEY
    std::string error;             // Kind::undecodable: why
};

// `holder` is the store that holds (and decodes) `record`.
[[nodiscard]] PreparedCopy prepare_copy(const StoredSession& record, const Store& holder, const CopyPlan& plan);

// The plan's signing facts for these two configurations.
[[nodiscard]] bool signs_alike(const SecretKeys& source, const SecretKeys& target,
                               const SessionSettings& source_settings, const SessionSettings& target_settings);
[[nodiscard]] bool login_hash_survives(const SecretKeys& source, const SecretKeys& target, DjangoSeries target_series);
// The user table's keys for re-hashing logins: the target's SECRET_KEY first
// (the hash written), then every key the source's Django accepts a hash
// made with (its SECRET_KEY; its fallbacks on >= 4.1; sha1 on 3.2).
[[nodiscard]] UserTableOptions user_table_options(const SecretKeys& source, DjangoSeries source_series,
                                                  const SecretKeys& target);

}  // namespace sessionctl::cli
