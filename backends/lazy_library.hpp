#pragma once

// A store's C library opened with dlopen when that store is first used, not
// linked: see backends/libpq_api.hpp for why. Failures are StoreUnavailable
// (exit 3) with one line that says what to install, never a crash.

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

}  // namespace sessionctl
