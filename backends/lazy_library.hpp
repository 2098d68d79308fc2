#pragma once

// A store's C library opened with dlopen when that store is first used, not
// linked: see backends/postgres/libpq_api.hpp for why. Failures are
// StoreUnavailable (exit 3) with one line that says what to install, never a
// crash.
//
// A library is described by the list of the functions sessionctl calls in it,
// as an X-macro, and two macros here turn that list into its table of
// function pointers and the functions that load it:
//
//   // libfoo_api.hpp
//   #include <foo.h>
//   #include "backends/lazy_library.hpp"
//   #define SESSIONCTL_LIBFOO_FUNCTIONS(X) X(foo_open) X(foo_close)
//   namespace sessionctl {
//   SESSIONCTL_LAZY_API(LibfooApi, SESSIONCTL_LIBFOO_FUNCTIONS, libfoo, load_libfoo, kLibfooSoname);
//   }
//
//   // libfoo_api.cpp (SESSIONCTL_LIBFOO_SONAME and _PACKAGE come from
//   // sessionctl_lazy_library() in cmake/LazyLibrary.cmake)
//   #include "backends/foo/libfoo_api.hpp"
//   namespace sessionctl {
//   SESSIONCTL_LAZY_API_DEFINE(LibfooApi, libfoo, load_libfoo, kLibfooSoname, "Foo support",
//                              SESSIONCTL_LIBFOO_SONAME, SESSIONCTL_LIBFOO_PACKAGE)
//   }
//
//   # backends/foo/CMakeLists.txt
//   pkg_check_modules(LIBFOO REQUIRED libfoo)
//   sessionctl_lazy_library(sessionctl_foo libfoo LIBFOO libfoo_api.cpp)

#include <string>

namespace sessionctl {

struct LibraryNeed {
    const char* feature;  // "PostgreSQL support"
    const char* soname;   // "libpq.so.5"
    const char* package;  // Debian package that ships it, or "" if unknown
};

// A library handle whose symbols are looked up one by one. Dropping it
// without release() unloads the library (a table left half-filled must not
// keep it).
class LazyLibrary {
public:
    // dlopen(RTLD_NOW | RTLD_LOCAL): RTLD_NOW so a library missing one of its
    // own dependencies fails here, with the message, not at the first call.
    explicit LazyLibrary(const LibraryNeed& need);
    ~LazyLibrary();
    LazyLibrary(const LazyLibrary&) = delete;
    LazyLibrary& operator=(const LazyLibrary&) = delete;

    // Sets `slot` to the function `name`; throws StoreUnavailable if absent.
    template <typename Function>
    void bind(Function& slot, const char* name) {
        slot = reinterpret_cast<Function>(symbol(name));
    }

    // Keeps the library loaded for the rest of the process.
    void release() { handle_ = nullptr; }

private:
    void* symbol(const char* name);
    [[noreturn]] void fail(const std::string& why) const;

    LibraryNeed need_;
    void* handle_ = nullptr;
};

// A table declared by SESSIONCTL_LAZY_API, every pointer bound, from the
// library `need` names. The library stays loaded (the table points into it);
// if it or any function is missing, StoreUnavailable and nothing stays loaded.
template <typename Table>
Table load_lazy_table(const LibraryNeed& need) {
    LazyLibrary library(need);
    Table table;
    table.for_each([&library](auto& slot, const char* name) { library.bind(slot, name); });
    library.release();
    return table;
}

}  // namespace sessionctl

// One member per function of the list, of the exact type of the function it
// stands for (decltype(&::name)), so a call through it is checked as a direct
// call would be.
#define SESSIONCTL_LAZY_API_MEMBER(function) decltype(&::function) function = nullptr;
#define SESSIONCTL_LAZY_API_VISIT(function) visit(function, #function);

// Declares, in the current namespace:
//   struct Table               one pointer per function in FUNCTIONS, and
//                              for_each(visit) calling visit(pointer, "name")
//   extern const char* const soname_constant;    the SONAME built against
//   const Table& accessor();                     the process-wide table
//   Table loader(const char* soname);            a table from another file
#define SESSIONCTL_LAZY_API(Table, FUNCTIONS, accessor, loader, soname_constant) \
    struct Table {                                                               \
        FUNCTIONS(SESSIONCTL_LAZY_API_MEMBER)                                    \
        template <typename Visit>                                                \
        void for_each(Visit&& visit) {                                           \
            FUNCTIONS(SESSIONCTL_LAZY_API_VISIT)                                 \
        }                                                                        \
    };                                                                           \
    extern const char* const soname_constant;                                    \
    const Table& accessor();                                                     \
    Table loader(const char* soname)

// Defines what SESSIONCTL_LAZY_API declared, for the library `soname` (its
// Debian `package`, or "") that gives `feature` ("PostgreSQL support"):
//   accessor() loads the table once (thread-safe) on first use. A throwing
//     initialiser leaves the static uninitialised: the next call retries (and
//     reports again) instead of using a half-filled table.
//   loader(soname) loads it from another file, not cached and not unloaded:
//     for tests that prove a missing library is reported, not a crash.
#define SESSIONCTL_LAZY_API_DEFINE(Table, accessor, loader, soname_constant, feature, soname, package)        \
    const char* const soname_constant = soname;                                                               \
    Table loader(const char* file) { return ::sessionctl::load_lazy_table<Table>({feature, file, package}); } \
    const Table& accessor() {                                                                                 \
        static const Table table = loader(soname_constant);                                                   \
        return table;                                                                                         \
    }
