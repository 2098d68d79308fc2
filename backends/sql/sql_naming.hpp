#pragma once

// Names in SQL as Django's schema editor makes them, shared by every SQL
// engine: quoting an identifier, and the name `manage.py migrate` gives an
// index (so tables sessionctl creates for demos and tests are Django's own).

#include <cstddef>
#include <string>
#include <string_view>

namespace sessionctl {

// An SQL identifier in double quotes, embedded quotes doubled (SQLite,
// PostgreSQL; MySQL in ANSI_QUOTES mode).
[[nodiscard]] std::string quote_sql_identifier(std::string_view name);

// BaseDatabaseSchemaEditor._create_index_name(table, [column], suffix):
// "<table>_<column>_<md5 digest of both, 8 hex><suffix>", shortened as Django
// shortens it when longer than `max_length` code points (the backend's
// max_name_length(): none on SQLite, so 200; 63 on PostgreSQL; 64 on MySQL).
[[nodiscard]] std::string django_index_name(std::string_view table, std::string_view column,
                                            std::string_view suffix = {}, std::size_t max_length = 200);

}  // namespace sessionctl
