#pragma once

// The user table read once into memory for a run over many sessions
// (inspect/delete/stats --dead, rekey, copy): for each user only what a
// session's login is checked against — whether the user is active and the
// session auth hash of its current password under each configured secret
// (AbstractBaseUser.get_session_auth_hash()), computed at load. Passwords are
// not kept: about 60 bytes a user (a million users in ~60 MiB with one
// fallback key), where the hashes themselves would take ~100.
//
// secrets[0] (the key sessions are written with) keeps the whole digest, so
// session_auth_hash() gives the value to store; the others keep 8 bytes, which
// tell which key a stored hash was made with (a false match has odds of 2^-64).

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "backends/users/user_source.hpp"
#include "core/salted_hmac.hpp"

namespace sessionctl {

struct UserTableOptions {
    // SECRET_KEY first, then SECRET_KEY_FALLBACKS (or any other keys, e.g. a
    // target site's SECRET_KEY alone).
    std::vector<std::string> secrets;
    // Django before 4.1 (DJANGO_VERSION 3.2): also accept the sha1 hash under
    // secrets[sha1_secret] (_legacy_get_session_auth_hash, or
    // DEFAULT_HASHING_ALGORITHM sha1).
    bool accept_sha1 = false;
    // Which secret the sha1 hash is made with: 0 (SECRET_KEY) for a site's own
    // table; copy puts the target's key first and the source's 3.2 key after it.
    std::size_t sha1_secret = 0;
};

// Which secret made a stored _auth_user_hash.
struct HashMatch {
    std::size_t secret_index = 0;  // index into UserTableOptions::secrets
    bool sha1 = false;             // the legacy sha1 form (accept_sha1)
};

class UserTable {
public:
    // A user found by find(); valid while the table lives.
    struct User {
        std::uint32_t row = 0;
    };

    // Reads every row of `source` once. Throws what the source throws.
    [[nodiscard]] static UserTable load(UserSource& source, UserTableOptions options);

    // The user a session's _auth_user_id names, compared as Django's
    // pk.to_python() would; nullopt when no row has that key.
    [[nodiscard]] std::optional<User> find(std::string_view session_user_id) const;
    [[nodiscard]] bool is_active(User user) const { return active_[user.row]; }
    // get_session_auth_hash() under secrets[0]: lowercase hex, as login() stores it.
    [[nodiscard]] std::string session_auth_hash(User user) const;
    // Which secret's hash of the user's password `stored_hash` is; nullopt
    // when none (Django would flush the session).
    [[nodiscard]] std::optional<HashMatch> match_hash(User user, std::string_view stored_hash) const;

    [[nodiscard]] std::size_t size() const { return active_.size(); }
    [[nodiscard]] UserPkKind pk_kind() const { return pk_kind_; }
    [[nodiscard]] bool has_is_active() const { return has_is_active_; }
    [[nodiscard]] const std::string& source() const { return source_; }
    // Bytes held, for tests and the benchmark's memory figure.
    [[nodiscard]] std::size_t memory_bytes() const;

private:
    static constexpr std::size_t kFullDigest = 32;  // sha256
    static constexpr std::size_t kShortDigest = 8;  // fallbacks, sha1

    // Sorted by key: integer keys by value, others by their text in keys_text_.
    struct Entry {
        std::int64_t number = 0;        // integer pk; else offset into keys_text_
        std::uint32_t text_length = 0;  // 0 for integer keys
        std::uint32_t row = 0;
    };

    [[nodiscard]] std::string_view text_of(const Entry& entry) const {
        return std::string_view(keys_text_).substr(static_cast<std::size_t>(entry.number), entry.text_length);
    }
    [[nodiscard]] const unsigned char* digests_of(std::uint32_t row) const { return &digests_[row * stride_]; }

    UserPkKind pk_kind_ = UserPkKind::integer;
    bool has_is_active_ = false;
    bool accept_sha1_ = false;
    std::size_t sha1_secret_ = 0;
    std::size_t secret_count_ = 0;
    std::size_t stride_ = 0;  // digest bytes per row
    std::string source_;
    std::vector<Entry> entries_;
    std::string keys_text_;
    std::vector<unsigned char> digests_;
    std::vector<bool> active_;
};

}  // namespace sessionctl
