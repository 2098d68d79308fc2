// libpq and libmemcached are opened with dlopen on first use (backends/
// postgres/libpq_api.hpp, backends/memcached/libmemcached_api.hpp, both made
// with backends/lazy_library.hpp) instead of being linked, so commands that
// need neither start fast (issue 6). These prove the shims find the library
// sessionctl was built against and every function in it, that the functions
// behave as the linked ones did, and that a missing library or function is a
// StoreUnavailable (exit 3) with one line saying what to install, never a
// crash, and that a failed first load is tried again on the next use. The
// libraries are always present where sessionctl is built (their -dev packages
// depend on them), so these never skip.
//
// That the sessionctl binary itself loads neither library until a store needs
// it is checked by tests/system/lazy_libs_test.py (ctest lazy_libs).

#include <dlfcn.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <functional>
#include <string>

#include <catch2/catch.hpp>

#include "backends/cache/liblz4_api.hpp"
#include "backends/cache/liblzma_api.hpp"
#include "backends/cache/libzstd_api.hpp"
#include "backends/memcached/libmemcached_api.hpp"
#include "backends/mysql/libmariadb_api.hpp"
#include "backends/postgres/libpq_api.hpp"
#include "core/errors.hpp"

namespace fs = std::filesystem;
using namespace sessionctl;

namespace {

// A library added as a new engine would add one: its function list, then one
// line each for the table and for its loading. Its SONAME is a path in a
// temporary directory where the test puts a copy of libpq, or nothing.
#define SESSIONCTL_TEST_LIBRARY_FUNCTIONS(X) X(PQlibVersion)

const char* test_library_path() {
    static const std::string path =
        (fs::temp_directory_path() / ("sessionctl-lazy-test-" + std::to_string(getpid())) / "libpq-copy.so").string();
    return path.c_str();
}

SESSIONCTL_LAZY_API(TestLibraryApi, SESSIONCTL_TEST_LIBRARY_FUNCTIONS, test_library, load_test_library,
                    kTestLibrarySoname);
SESSIONCTL_LAZY_API_DEFINE(TestLibraryApi, test_library, load_test_library, kTestLibrarySoname, "Test support",
                           test_library_path(), "")

// The file a function was loaded from, for "it came from the SONAME we asked for".
std::string file_of(const void* function) {
    Dl_info info{};
    REQUIRE(dladdr(function, &info) != 0);
    return info.dli_fname ? info.dli_fname : "";
}

// Checks that every pointer of a table is set; returns how many there are
// (one per function of the library's list: for_each visits each).
template <typename Table>
int bound_functions(Table table) {
    int count = 0;
    table.for_each([&count](auto& function, const char* name) {
        INFO(name);
        CHECK(function != nullptr);
        ++count;
    });
    return count;
}

std::string message_of(const std::function<void()>& load) {
    try {
        load();
    } catch (const StoreUnavailable& e) {
        return e.what();
    }
    FAIL("no StoreUnavailable was thrown");
    return {};
}

}  // namespace

TEST_CASE("the libpq shim resolves every libpq function sessionctl calls", "[backends][lazy_libs]") {
    CHECK(std::string(kLibpqSoname).rfind("libpq.so.", 0) == 0);
    const LibpqApi& api = pq();
    CHECK(bound_functions(api) == 28);  // what pg_connection.cpp calls (a direct call no longer links)
    // Loaded by its SONAME, which the build read off the library it compiled
    // against (cmake/LazyLibrary.cmake), from the file of that name.
    CHECK(file_of(reinterpret_cast<void*>(api.PQexec)).find(kLibpqSoname) != std::string::npos);
    // The same table every time.
    CHECK(&pq() == &api);
    // Loaded RTLD_LOCAL and not linked into this binary: had a link line
    // pulled libpq back in, its functions would be visible globally.
    CHECK(dlsym(RTLD_DEFAULT, "PQexec") == nullptr);

    // The calls work: libpq's own defaults, and its parser's verdicts.
    PQconninfoOption* defaults = api.PQconndefaults();
    REQUIRE(defaults != nullptr);
    bool has_dbname = false;
    for (PQconninfoOption* o = defaults; o->keyword; ++o)
        if (std::strcmp(o->keyword, "dbname") == 0) has_dbname = true;
    api.PQconninfoFree(defaults);
    CHECK(has_dbname);
    char* error = nullptr;
    CHECK(api.PQconninfoParse("host='unterminated", &error) == nullptr);
    REQUIRE(error != nullptr);
    CHECK(std::string(error).find("unterminated") != std::string::npos);
    api.PQfreemem(error);
}

TEST_CASE("the libmemcached shim resolves every libmemcached function sessionctl calls", "[backends][lazy_libs]") {
    CHECK(std::string(kLibmemcachedSoname).rfind("libmemcached.so.", 0) == 0);
    const LibmemcachedApi& api = libmemcached();
    CHECK(bound_functions(api) == 27);
    CHECK(file_of(reinterpret_cast<void*>(api.memcached_create)).find(kLibmemcachedSoname) != std::string::npos);
    CHECK(&libmemcached() == &api);
    CHECK(dlsym(RTLD_DEFAULT, "memcached_create") == nullptr);  // not linked, loaded RTLD_LOCAL

    memcached_st* handle = api.memcached_create(nullptr);
    REQUIRE(handle != nullptr);
    CHECK(std::string(api.memcached_strerror(handle, MEMCACHED_NOTFOUND)) == "NOT FOUND");
    CHECK(api.memcached_server_add(handle, "127.0.0.1", 1) == MEMCACHED_SUCCESS);
    api.memcached_free(handle);
}

TEST_CASE("the libmariadb shim resolves every libmariadb function sessionctl calls", "[backends][lazy_libs]") {
    CHECK(std::string(kLibmariadbSoname).rfind("libmariadb.so.", 0) == 0);
    const LibmariadbApi& api = mariadb();
    CHECK(bound_functions(api) == 21);  // what mysql_connection.cpp calls
    CHECK(file_of(reinterpret_cast<void*>(api.mysql_init)).find(kLibmariadbSoname) != std::string::npos);
    CHECK(&mariadb() == &api);
    CHECK(dlsym(RTLD_DEFAULT, "mysql_real_connect") == nullptr);  // not linked, loaded RTLD_LOCAL

    MYSQL* handle = api.mysql_init(nullptr);
    REQUIRE(handle != nullptr);
    CHECK(api.mysql_errno(handle) == 0);
    api.mysql_close(handle);
}

TEST_CASE("the compressors' shims (liblz4, liblzma, libzstd) resolve every function", "[backends][lazy_libs]") {
    // django-redis's lz4, lzma and zstd compressors (backends/cache/value_compression.cpp).
    const Liblz4Api& lz4 = liblz4();
    CHECK(bound_functions(lz4) == 7);
    CHECK(file_of(reinterpret_cast<void*>(lz4.LZ4F_decompress)).find(kLiblz4Soname) != std::string::npos);
    CHECK(lz4.LZ4F_compressFrameBound(100, nullptr) > 100);
    const LiblzmaApi& lzma = liblzma();
    CHECK(bound_functions(lzma) == 4);
    CHECK(file_of(reinterpret_cast<void*>(lzma.lzma_code)).find(kLiblzmaSoname) != std::string::npos);
    const LibzstdApi& zstd = libzstd();
    CHECK(bound_functions(zstd) == 9);
    CHECK(file_of(reinterpret_cast<void*>(zstd.ZSTD_compress)).find(kLibzstdSoname) != std::string::npos);
    CHECK(zstd.ZSTD_compressBound(100) > 100);
    const std::string message = message_of([] { (void)load_libzstd("libzstd.so.999-not-installed"); });
    CHECK(message.rfind("django-redis's ZStdCompressor needs libzstd.so.999-not-installed", 0) == 0);
}

TEST_CASE("a missing libpq is StoreUnavailable naming the library, not a crash", "[backends][lazy_libs]") {
    const std::string message = message_of([] { (void)load_libpq("libpq.so.999-not-installed"); });
    CHECK(message.rfind("PostgreSQL support needs libpq.so.999-not-installed", 0) == 0);
    CHECK(message.find("cannot open shared object file") != std::string::npos);  // dlerror's reason
    CHECK(message.find('\n') == std::string::npos);
}

TEST_CASE("a missing libmemcached is StoreUnavailable naming the library, not a crash", "[backends][lazy_libs]") {
    const std::string message = message_of([] { (void)load_libmemcached("libmemcached.so.999-not-installed"); });
    CHECK(message.rfind("memcached support needs libmemcached.so.999-not-installed", 0) == 0);
    CHECK(message.find("cannot open shared object file") != std::string::npos);
    CHECK(message.find('\n') == std::string::npos);
}

TEST_CASE("a library without one of the functions is StoreUnavailable naming the function", "[backends][lazy_libs]") {
    // libmemcached has none of libpq's functions: the first lookup fails.
    const std::string message = message_of([] { (void)load_libpq(kLibmemcachedSoname); });
    CHECK(message.rfind(std::string("PostgreSQL support needs ") + kLibmemcachedSoname, 0) == 0);
    CHECK(message.find("PQclear") != std::string::npos);
    CHECK(message.find('\n') == std::string::npos);
    // And the other way round.
    const std::string other = message_of([] { (void)load_libmemcached(kLibpqSoname); });
    CHECK(other.find("memcached_add") != std::string::npos);
}

TEST_CASE("a new library is its function list; a failed first load is tried again", "[backends][lazy_libs]") {
    const fs::path path = kTestLibrarySoname;
    fs::remove_all(path.parent_path());
    // Missing: StoreUnavailable naming it, on every use (no table is kept).
    for (int attempt = 0; attempt < 2; ++attempt) {
        const std::string message = message_of([] { (void)test_library(); });
        CHECK(message.rfind("Test support needs " + path.string() + ": ", 0) == 0);
        CHECK(message.find("cannot open shared object file") != std::string::npos);
    }
    // There now: the next use loads it, once.
    fs::create_directories(path.parent_path());
    fs::copy_file(file_of(reinterpret_cast<void*>(pq().PQexec)), path);
    const TestLibraryApi& api = test_library();
    CHECK(file_of(reinterpret_cast<void*>(api.PQlibVersion)) == path.string());
    CHECK(api.PQlibVersion() >= 100000);  // libpq 10 or later
    fs::remove_all(path.parent_path());   // the library stays loaded
    CHECK(&test_library() == &api);
    // load_test_library() is the same load from another file.
    CHECK(load_test_library(kLibpqSoname).PQlibVersion() == api.PQlibVersion());
}
