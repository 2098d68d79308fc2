#pragma once

// libpq, loaded with dlopen the first time a PostgreSQL database is used.
// Linking it would make every run pay for it: libpq pulls in Kerberos, LDAP,
// GnuTLS and p11-kit, whose loading and constructors were most of the start-up
// time of `sessionctl --version` or `decode` (issue 6). libpq-fe.h still gives
// the types and prototypes; each pointer below has the exact type of the
// function it stands for, so a call through it is checked as a direct call.
//
// Only backends/pg_connection.cpp (and the shim's test) include this header.

#include <libpq-fe.h>

#include <cstddef>

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
    X(PQgetlength)                    \
    X(PQgetvalue)                     \
    X(PQhost)                         \
    X(PQntuples)                      \
    X(PQport)                         \
    X(PQresultErrorField)             \
    X(PQresultStatus)                 \
    X(PQserverVersion)                \
    X(PQsetNoticeProcessor)           \
    X(PQstatus)                       \
    X(PQtransactionStatus)            \
    X(PQuser)

namespace sessionctl {

struct LibpqApi {
#define SESSIONCTL_LIBPQ_MEMBER(name) decltype(&::name) name = nullptr;
    SESSIONCTL_LIBPQ_FUNCTIONS(SESSIONCTL_LIBPQ_MEMBER)
#undef SESSIONCTL_LIBPQ_MEMBER
};

// The SONAME of the libpq sessionctl was built against (read from the library
// at configure time, so a soname bump is noticed when building, not at run time).
extern const char* const kLibpqSoname;

// The process-wide table, loaded once (thread-safe) on first use. Throws
// StoreUnavailable, one line naming the library and the package to install,
// when the library or one of its functions is missing; the next call tries
// again.
const LibpqApi& pq();

// Loads a table from `soname` (not cached, not unloaded): pq() with the
// library name as a parameter, for tests that prove a missing library is
// reported, not a crash.
LibpqApi load_libpq(const char* soname);

}  // namespace sessionctl
