#include "backends/users/user_source.hpp"

#include <cctype>

#include <fmt/format.h>

namespace sessionctl {
namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

std::string_view trim_spaces(std::string_view text) {
    while (!text.empty() && is_space(text.front())) text.remove_prefix(1);
    while (!text.empty() && is_space(text.back())) text.remove_suffix(1);
    return text;
}

// int(text) as IntegerField.to_python calls it: spaces around, an optional
// sign, decimal digits ('_' between digits too, as Python allows).
std::optional<std::string> canonical_integer(std::string_view text) {
    text = trim_spaces(text);
    bool negative = false;
    if (!text.empty() && (text.front() == '+' || text.front() == '-')) {
        negative = text.front() == '-';
        text.remove_prefix(1);
    }
    std::string digits;
    bool last_digit = false;
    for (char c : text) {
        if (c >= '0' && c <= '9') {
            digits += c;
            last_digit = true;
        } else if (c == '_' && last_digit) {
            last_digit = false;
        } else {
            return std::nullopt;
        }
    }
    if (digits.empty() || !last_digit) return std::nullopt;
    std::size_t first = digits.find_first_not_of('0');
    if (first == std::string::npos) return std::string("0");
    digits.erase(0, first);
    return negative ? "-" + digits : digits;
}

// uuid.UUID(text) as UUIDField.to_python calls it: hyphens and braces and a
// "urn:uuid:" prefix dropped, then 32 hex digits.
std::optional<std::string> canonical_uuid(std::string_view text) {
    text = trim_spaces(text);
    if (text.substr(0, 9) == "urn:uuid:") text.remove_prefix(9);
    std::string hex;
    for (char c : text) {
        if (c == '{' || c == '}' || c == '-') continue;
        if (!std::isxdigit(static_cast<unsigned char>(c))) return std::nullopt;
        hex += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    if (hex.size() != 32) return std::nullopt;
    return hex;
}

}  // namespace

std::optional<std::string> canonical_user_pk(UserPkKind kind, std::string_view session_user_id) {
    switch (kind) {
        case UserPkKind::integer: return canonical_integer(session_user_id);
        case UserPkKind::uuid: return canonical_uuid(session_user_id);
        case UserPkKind::text: return std::string(session_user_id);
    }
    return std::nullopt;
}

std::string default_user_table_name(std::string_view model) {
    const std::size_t dot = model.find('.');
    if (dot == std::string_view::npos || dot == 0 || dot + 1 == model.size() ||
        model.find('.', dot + 1) != std::string_view::npos)
        throw ConfigError(fmt::format("AUTH_USER_MODEL must be of the form 'app_label.model_name', got '{}'", model));
    std::string table(model.substr(0, dot));
    table += '_';
    for (char c : model.substr(dot + 1)) table += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return table;
}

UserTableLocation user_table_location(const Config& config) {
    UserTableLocation where;
    where.database = config.database();
    const nlohmann::json& table = config.get("AUTH_USER_TABLE");
    if (table.is_string() && !table.get<std::string>().empty()) where.table = table.get<std::string>();
    else where.table = default_user_table_name(config.get("AUTH_USER_MODEL").get<std::string>());
    return where;
}

}  // namespace sessionctl
