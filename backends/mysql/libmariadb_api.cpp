#include "backends/mysql/libmariadb_api.hpp"

// Both come from sessionctl_lazy_library() (cmake/LazyLibrary.cmake), read off
// the libmariadb found at configure time.
#ifndef SESSIONCTL_LIBMARIADB_SONAME
#error "SESSIONCTL_LIBMARIADB_SONAME must be defined by the build (cmake/LazyLibrary.cmake)"
#endif
#ifndef SESSIONCTL_LIBMARIADB_PACKAGE
#define SESSIONCTL_LIBMARIADB_PACKAGE ""
#endif

namespace sessionctl {

SESSIONCTL_LAZY_API_DEFINE(LibmariadbApi, mariadb, load_libmariadb, kLibmariadbSoname, "MySQL/MariaDB support",
                           SESSIONCTL_LIBMARIADB_SONAME, SESSIONCTL_LIBMARIADB_PACKAGE)

}  // namespace sessionctl
