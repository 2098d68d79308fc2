#include "backends/users/user_table.hpp"

#include <algorithm>
#include <charconv>
#include <cstring>
#include <stdexcept>

#include <fmt/format.h>

#include "core/auth_hash.hpp"

namespace sessionctl {
namespace {

std::optional<std::int64_t> parse_int64(std::string_view text) {
    std::int64_t value = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
    return value;
}

int hex_digit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;  // Django's hexdigest is lower case: anything else never matches
}

// The first `bytes` bytes of a lowercase hex text of exactly `hex_length` digits.
bool decode_hex_prefix(std::string_view hex, std::size_t hex_length, std::size_t bytes, unsigned char* out) {
    if (hex.size() != hex_length) return false;
    for (std::size_t i = 0; i < hex.size(); ++i)
        if (hex_digit(hex[i]) < 0) return false;
    for (std::size_t i = 0; i < bytes; ++i)
        out[i] = static_cast<unsigned char>(hex_digit(hex[2 * i]) << 4 | hex_digit(hex[2 * i + 1]));
    return true;
}

}  // namespace

UserTable UserTable::load(UserSource& source, UserTableOptions options) {
    if (options.secrets.empty()) throw ConfigError("reading the user table needs SECRET_KEY");
    if (options.accept_sha1 && options.sha1_secret >= options.secrets.size())
        throw std::invalid_argument("UserTableOptions::sha1_secret names no secret");
    UserTable table;
    table.pk_kind_ = source.pk_kind();
    table.has_is_active_ = source.has_is_active();
    table.accept_sha1_ = options.accept_sha1;
    table.sha1_secret_ = options.sha1_secret;
    table.secret_count_ = options.secrets.size();
    table.stride_ =
        kFullDigest + (options.secrets.size() - 1) * kShortDigest + (options.accept_sha1 ? kShortDigest : 0);
    table.source_ = source.describe();

    // The key schedules once; each user then costs one HMAC per secret.
    std::vector<SaltedHmac> macs;
    for (const auto& secret : options.secrets) macs.emplace_back(SESSION_AUTH_HASH_SALT, secret, HashAlgorithm::sha256);
    std::optional<SaltedHmac> sha1;
    if (options.accept_sha1)
        sha1.emplace(SESSION_AUTH_HASH_SALT, options.secrets[options.sha1_secret], HashAlgorithm::sha1);

    source.scan([&](const UserRowView& row) {
        const auto index = static_cast<std::uint32_t>(table.active_.size());
        Entry entry;
        entry.row = index;
        if (table.pk_kind_ == UserPkKind::integer) {
            auto number = parse_int64(row.pk);
            if (!number) return;  // cannot be named by any session
            entry.number = *number;
        } else {
            entry.number = static_cast<std::int64_t>(table.keys_text_.size());
            entry.text_length = static_cast<std::uint32_t>(row.pk.size());
            table.keys_text_.append(row.pk);
        }
        table.entries_.push_back(entry);
        table.active_.push_back(row.is_active);
        const std::size_t at = table.digests_.size();
        table.digests_.resize(at + table.stride_);
        unsigned char* out = &table.digests_[at];
        for (std::size_t i = 0; i < macs.size(); ++i) {
            const std::string digest = macs[i].digest(row.password);
            const std::size_t keep = i == 0 ? kFullDigest : kShortDigest;
            std::memcpy(out, digest.data(), keep);
            out += keep;
        }
        if (sha1) std::memcpy(out, sha1->digest(row.password).data(), kShortDigest);
    });
    table.keys_text_.shrink_to_fit();
    table.entries_.shrink_to_fit();
    table.digests_.shrink_to_fit();

    if (table.pk_kind_ == UserPkKind::integer)
        std::sort(table.entries_.begin(), table.entries_.end(),
                  [](const Entry& a, const Entry& b) { return a.number < b.number; });
    else
        std::sort(table.entries_.begin(), table.entries_.end(),
                  [&table](const Entry& a, const Entry& b) { return table.text_of(a) < table.text_of(b); });
    return table;
}

std::optional<UserTable::User> UserTable::find(std::string_view session_user_id) const {
    auto key = canonical_user_pk(pk_kind_, session_user_id);
    if (!key) return std::nullopt;
    if (pk_kind_ == UserPkKind::integer) {
        auto number = parse_int64(*key);
        if (!number) return std::nullopt;
        auto it = std::lower_bound(entries_.begin(), entries_.end(), *number,
                                   [](const Entry& e, std::int64_t n) { return e.number < n; });
        if (it == entries_.end() || it->number != *number) return std::nullopt;
        return User{it->row};
    }
    auto it = std::lower_bound(entries_.begin(), entries_.end(), std::string_view(*key),
                               [this](const Entry& e, std::string_view k) { return text_of(e) < k; });
    if (it == entries_.end() || text_of(*it) != *key) return std::nullopt;
    return User{it->row};
}

std::string UserTable::session_auth_hash(User user) const {
    return to_hex(std::string_view(reinterpret_cast<const char*>(digests_of(user.row)), kFullDigest));
}

std::optional<HashMatch> UserTable::match_hash(User user, std::string_view stored_hash) const {
    const unsigned char* digests = digests_of(user.row);
    unsigned char given[kFullDigest];
    if (decode_hex_prefix(stored_hash, 2 * kFullDigest, kFullDigest, given)) {
        if (std::memcmp(given, digests, kFullDigest) == 0) return HashMatch{0, false};
        for (std::size_t i = 1; i < secret_count_; ++i)
            if (std::memcmp(given, digests + kFullDigest + (i - 1) * kShortDigest, kShortDigest) == 0)
                return HashMatch{i, false};
        return std::nullopt;
    }
    if (accept_sha1_ && decode_hex_prefix(stored_hash, 40, kShortDigest, given)) {
        const unsigned char* sha1 = digests + kFullDigest + (secret_count_ - 1) * kShortDigest;
        if (std::memcmp(given, sha1, kShortDigest) == 0) return HashMatch{sha1_secret_, true};
    }
    return std::nullopt;
}

std::size_t UserTable::memory_bytes() const {
    return entries_.capacity() * sizeof(Entry) + keys_text_.capacity() + digests_.capacity() + active_.capacity() / 8 +
           source_.capacity();
}

}  // namespace sessionctl
