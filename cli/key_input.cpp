#include "cli/key_input.hpp"

#include <istream>
#include <unordered_set>

#include <fmt/format.h>

#include "cli/exit_codes.hpp"
#include "cli/output.hpp"
#include "core/errors.hpp"
#include "core/session_key.hpp"

namespace sessionctl::cli {

KeyRule key_rule_for_engine(std::string_view session_engine) {
    if (session_engine == "django.contrib.sessions.backends.signed_cookies") return KeyRule::signed_cookie;
    return session_engine == "django.contrib.sessions.backends.file" ? KeyRule::file_engine : KeyRule::other;
}

std::optional<std::string> key_problem(std::string_view key, KeyRule rule) {
    if (key.empty()) return "is empty";
    if (rule == KeyRule::signed_cookie) {
        // The session "key" is the cookie value: signing.dumps' alphabet.
        for (char c : key) {
            bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
                      c == '-' || c == ':' || c == '.';
            if (!ok) return "is not a signed_cookies value (letters, digits, '_', '-', ':' and '.')";
        }
        if (key.size() > kMaxCookieLength) return fmt::format("is longer than {} characters", kMaxCookieLength);
        if (!is_valid_session_key(key)) return "is shorter than 8 characters";
        return std::nullopt;
    }
    if (rule == KeyRule::file_engine) {
        if (!has_only_valid_key_chars(key))
            return "may hold only lowercase letters a-z and digits 0-9 with the file engine";
    } else {
        for (char c : key) {
            bool ok =
                (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
            if (!ok) return "may hold only letters, digits, '_' and '-'";
        }
    }
    // Only ASCII is left, so bytes are characters.
    if (!is_valid_session_key(key)) return "is shorter than 8 characters";
    if (key.size() > kMaxKeyLength) return fmt::format("is longer than {} characters", kMaxKeyLength);
    return std::nullopt;
}

namespace {

std::string_view trim(std::string_view s) {
    auto blank = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f'; };
    while (!s.empty() && blank(s.front())) s.remove_prefix(1);
    while (!s.empty() && blank(s.back())) s.remove_suffix(1);
    return s;
}

}  // namespace

std::vector<std::string> read_keys(std::istream& in, KeySeparator separator) {
    std::vector<std::string> keys;
    char delim = separator == KeySeparator::nul ? '\0' : '\n';
    for (std::string item; std::getline(in, item, delim);) {
        if (separator == KeySeparator::newline) {
            std::string_view t = trim(item);
            if (!t.empty()) keys.emplace_back(t);
        } else if (!item.empty()) {
            keys.push_back(std::move(item));
        }
    }
    if (in.bad()) throw UsageError("cannot read keys from standard input");
    return keys;
}

std::vector<std::string> collect_keys(const KeyArgs& args, std::istream& in, KeyRule rule) {
    if (args.from_stdin && !args.keys.empty())
        throw UsageError("give session keys as arguments or with --stdin, not both");
    if (args.null_separated && !args.from_stdin) throw UsageError("-0 only applies with --stdin");
    std::vector<std::string> raw =
        args.from_stdin ? read_keys(in, args.null_separated ? KeySeparator::nul : KeySeparator::newline) : args.keys;

    std::vector<std::string> keys;
    std::unordered_set<std::string> seen;
    const std::string* first_bad = nullptr;
    std::string first_problem;
    std::size_t bad = 0;
    for (const auto& key : raw) {
        if (auto problem = key_problem(key, rule)) {
            if (bad++ == 0) {
                first_bad = &key;
                first_problem = *problem;
            }
            continue;
        }
        if (seen.insert(key).second) keys.push_back(key);
    }
    if (first_bad) {
        std::string more = bad > 1 ? fmt::format(" (and {} more invalid)", bad - 1) : "";
        throw InvalidSessionKey(fmt::format("invalid session key '{}'{}: a session key {}; nothing was done",
                                            printable(*first_bad, 80), more, first_problem));
    }
    return keys;
}

}  // namespace sessionctl::cli
