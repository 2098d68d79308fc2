#pragma once

// libpq, loaded with dlopen the first time a PostgreSQL database is used.
// Linking it would make every run pay for it: libpq pulls in Kerberos, LDAP,
// GnuTLS and p11-kit, whose loading and constructors were most of the start-up
// time of `sessionctl --version` or `decode` (issue 6). libpq-fe.h still gives
// the types and prototypes; each pointer in the table has the exact type of
// the function it stands for, so a call through it is checked as a direct call
// (backends/lazy_library.hpp).
//
// Only backends/postgres/pg_connection.cpp (and the shim's test) include this header.

#include <libpq-fe.h>

#include <cstddef>

#include "backends/lazy_library.hpp"

// Every libpq function sessionctl calls. A new call to libpq must be added
// here (the linker no longer catches a direct one: it fails to link).
#define SESSIONCTL_LIBPQ_FUNCTIONS(X) \
    X(PQclear)                        \
    X(PQcmdTuples)                    \
    X(PQconndefaults)                 \
    X(PQconnectdbParams)              \
    X(PQconninfoFree)                 \
    X(PQconninfoParse)                \
    X(PQdb)                           \
    X(PQerrorMessage)                 \
    X(PQescapeLiteral)                \
    X(PQexec)                         \
    X(PQexecParams)                   \
    X(PQfinish)                       \
    X(PQfreemem)                      \
    X(PQgetisnull)                    \
    X(PQgetResult)                    \
    X(PQgetlength)                    \
    X(PQgetvalue)                     \
    X(PQhost)                         \
    X(PQntuples)                      \
    X(PQport)                         \
    X(PQresultErrorField)             \
    X(PQresultStatus)                 \
    X(PQsendQueryParams)              \
    X(PQserverVersion)                \
    X(PQsetNoticeProcessor)           \
    X(PQstatus)                       \
    X(PQtransactionStatus)            \
    X(PQuser)

namespace sessionctl {

// struct LibpqApi (a pointer per function above); kLibpqSoname, the SONAME of
// the libpq sessionctl was built against; pq(), the process-wide table, loaded
// on first use; load_libpq(soname), a table from another file, for tests.
SESSIONCTL_LAZY_API(LibpqApi, SESSIONCTL_LIBPQ_FUNCTIONS, pq, load_libpq, kLibpqSoname);

}  // namespace sessionctl
