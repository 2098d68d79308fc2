#pragma once

// Session keys named by the user (arguments or --stdin), validated before any
// store is touched: a key is a file name for the file engine and part of a
// cache key or SQL parameter for the others, so "../etc/passwd" never gets
// that far.

#include <cstddef>
#include <iosfwd>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sessionctl::cli {

enum class KeyRule {
    file_engine,    // VALID_KEY_CHARS only ([a-z0-9]): Django's file engine rule
    other,          // [A-Za-z0-9_-], at most kMaxKeyLength
    signed_cookie,  // a signed_cookies value: base64url, ':' and '.', at most kMaxCookieLength
};

inline constexpr std::size_t kMaxKeyLength = 255;
inline constexpr std::size_t kMaxCookieLength = 64 * 1024;

[[nodiscard]] KeyRule key_rule_for_engine(std::string_view session_engine);

// Why `key` must not reach a store ("is shorter than 8 characters", ...), or
// nullopt when it is acceptable.
[[nodiscard]] std::optional<std::string> key_problem(std::string_view key, KeyRule rule);

enum class KeySeparator { newline, nul };

// Keys from a stream. newline: one per line, surrounding blanks and empty
// lines ignored (so CRLF and `sort` output work). nul: exact NUL-terminated
// items (find -print0 style), empty items ignored.
[[nodiscard]] std::vector<std::string> read_keys(std::istream& in, KeySeparator separator);

struct KeyArgs {
    std::vector<std::string> keys;  // positional KEY...
    bool from_stdin = false;        // --stdin
    bool null_separated = false;    // -0
};

// The keys a command was given, duplicates dropped (first position kept),
// every one validated. Throws InvalidSessionKey naming the first bad key (and
// how many others are bad), UsageError for KEY... together with --stdin.
[[nodiscard]] std::vector<std::string> collect_keys(const KeyArgs& args, std::istream& in, KeyRule rule);

}  // namespace sessionctl::cli
