#include "backends/lazy_library.hpp"

#include <dlfcn.h>

#include <fmt/format.h>

#include "core/errors.hpp"

namespace sessionctl {
namespace {

std::string last_dl_error(const char* fallback) {
    const char* error = dlerror();
    return error ? std::string(error) : std::string(fallback);
}

}  // namespace

LazyLibrary::LazyLibrary(const LibraryNeed& need) : need_(need) {
    handle_ = dlopen(need_.soname, RTLD_NOW | RTLD_LOCAL);
    if (!handle_) fail(last_dl_error("cannot open the library"));
}

LazyLibrary::~LazyLibrary() {
    if (handle_) dlclose(handle_);
}

void* LazyLibrary::symbol(const char* name) {
    dlerror();  // a null symbol is only an error if dlerror says so
    void* address = dlsym(handle_, name);
    if (!address) fail(last_dl_error(fmt::format("{}: symbol is null", name).c_str()));
    return address;
}

void LazyLibrary::fail(const std::string& why) const {
    const std::string install =
        *need_.package ? fmt::format(" (Debian: apt-get install {})", need_.package) : std::string();
    throw StoreUnavailable(fmt::format("{} needs {}{}: {}", need_.feature, need_.soname, install, why));
}

}  // namespace sessionctl
