#pragma once

// libmariadb (MariaDB Connector/C), loaded with dlopen the first time a MySQL
// or MariaDB database is used, for the reason libpq is (backends/postgres/
// libpq_api.hpp): it pulls in GnuTLS and its dependencies, whose loading every
// command would otherwise pay for. mysql.h still gives the types and
// prototypes; each pointer has the exact type of the function it stands for.
//
// Only backends/mysql/mysql_connection.cpp (and the shim's test) include this header.

#include <mysql.h>

#include "backends/lazy_library.hpp"

// Every libmariadb function sessionctl calls. A new call must be added here.
#define SESSIONCTL_LIBMARIADB_FUNCTIONS(X) \
    X(mysql_affected_rows)                 \
    X(mysql_close)                         \
    X(mysql_errno)                         \
    X(mysql_error)                         \
    X(mysql_fetch_lengths)                 \
    X(mysql_fetch_row)                     \
    X(mysql_field_count)                   \
    X(mysql_free_result)                   \
    X(mysql_get_server_info)               \
    X(mysql_get_server_version)            \
    X(mysql_init)                          \
    X(mysql_num_fields)                    \
    X(mysql_num_rows)                      \
    X(mysql_options)                       \
    X(mysql_real_connect)                  \
    X(mysql_real_escape_string)            \
    X(mysql_real_query)                    \
    X(mysql_set_character_set)             \
    X(mysql_sqlstate)                      \
    X(mysql_ssl_set)                       \
    X(mysql_store_result)

namespace sessionctl {

// struct LibmariadbApi; kLibmariadbSoname; mariadb(), the process-wide table,
// loaded on first use; load_libmariadb(soname), a table from another file, for tests.
SESSIONCTL_LAZY_API(LibmariadbApi, SESSIONCTL_LIBMARIADB_FUNCTIONS, mariadb, load_libmariadb, kLibmariadbSoname);

}  // namespace sessionctl
