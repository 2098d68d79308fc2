#include "backends/sql/sql_naming.hpp"

#include <openssl/evp.h>

#include <array>

#include <fmt/format.h>

#include "core/errors.hpp"
#include "core/salted_hmac.hpp"
#include "util/text.hpp"

namespace sessionctl {
namespace {

// django.db.backends.utils.names_digest: md5 over the names, hex, truncated.
std::string names_digest(std::string_view table, std::string_view column, std::size_t length) {
    std::string input = std::string(table) + std::string(column);
    std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
    unsigned int size = 0;
    if (EVP_Digest(input.data(), input.size(), digest.data(), &size, EVP_md5(), nullptr) != 1)
        throw StoreError("MD5 is unavailable: cannot name an index");
    return to_hex(std::string_view(reinterpret_cast<const char*>(digest.data()), size)).substr(0, length);
}

}  // namespace

std::string quote_sql_identifier(std::string_view name) {
    std::string quoted = "\"";
    for (char c : name) {
        if (c == '"') quoted += '"';
        quoted += c;
    }
    quoted += '"';
    return quoted;
}

std::string django_index_name(std::string_view table, std::string_view column, std::string_view suffix,
                              std::size_t max_length) {
    std::string hash_suffix = names_digest(table, column, 8) + std::string(suffix);
    std::string name = fmt::format("{}_{}_{}", table, column, hash_suffix);
    if (code_point_count(name) <= max_length) return name;
    // Django shortens a long suffix, then gives table and column half each.
    if (code_point_count(hash_suffix) > max_length / 3)
        hash_suffix = std::string(first_code_points(hash_suffix, max_length / 3));
    const std::size_t other_length = (max_length - code_point_count(hash_suffix)) / 2 - 1;
    name = fmt::format("{}_{}_{}", first_code_points(table, other_length), first_code_points(column, other_length),
                       hash_suffix);
    // Not starting with an underscore or a digit (Oracle's rule, applied everywhere).
    if (name[0] == '_' || (name[0] >= '0' && name[0] <= '9'))
        name = fmt::format("D{}", first_code_points(name, code_point_count(name) - 1));
    return name;
}

}  // namespace sessionctl
