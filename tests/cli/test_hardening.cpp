// Limits and signals from issue 7: SESSION_MAX_INFLATED_SIZE reaches the codec,
// the depth caps sit above what Django can write, SIGTERM exits 143.

#include <catch2/catch.hpp>

#include <csignal>
#include <string>

#include "cli/exit_codes.hpp"
#include "cli/interrupt.hpp"
#include "core/config.hpp"
#include "core/json_codec.hpp"
#include "core/pickle_codec.hpp"
#include "core/session_base.hpp"
#include "core/session_codec.hpp"

using namespace sessionctl;

namespace {

SecretKeys keys() {
    SecretKeys k;
    k.secret_key = "hardening-test-secret-0123456789abcdefghijklmnopqrstuvwxyz";
    return k;
}

// A dict whose JSON is about `bytes` long and compresses ~1000:1.
PyValue zeros_session(std::size_t bytes) { return PyValue(PyDict{{"a", PyValue(std::string(bytes, '0'))}}); }

}  // namespace

TEST_CASE("SESSION_MAX_INFLATED_SIZE defaults to 64 MiB and reaches the session codec", "[core][limits]") {
    ConfigSources sources;  // no file: overrides only (run from a directory without one)
    Config defaults = Config::defaults();
    CHECK(defaults.session_settings().max_inflated_bytes == kDefaultMaxInflatedBytes);

    sources.overrides = {"SESSION_MAX_INFLATED_SIZE=4096"};
    Config small = Config::load(sources);
    SessionSettings settings = small.session_settings();
    REQUIRE(settings.max_inflated_bytes == 4096);
    auto env = SessionEnvironment::make(settings, keys(), nullptr);
    CHECK(env->codec->max_inflated_bytes() == 4096);

    const std::string blob = env->codec->encode(zeros_session(8000), 1700000000);
    DecodeResult r = env->codec->decode(blob);
    CHECK(r.status == DecodeStatus::malformed);
    CHECK(r.malformed_part == "zlib");
    CHECK_THAT(r.error, Catch::Contains("SESSION_MAX_INFLATED_SIZE"));
    // An explicit option wins over the codec's own cap.
    DecodeOptions wide;
    wide.max_inflated_bytes = 1u << 20;
    CHECK(env->codec->decode(blob, wide).ok());

    for (const char* bad : {"SESSION_MAX_INFLATED_SIZE=0", "SESSION_MAX_INFLATED_SIZE=-5"}) {
        sources.overrides = {bad};
        CHECK_THROWS_WITH(Config::load(sources).session_settings(), Catch::Contains("SESSION_MAX_INFLATED_SIZE"));
    }
    sources.overrides = {"SESSION_MAX_INFLATED_SIZE=\"64M\""};
    CHECK_THROWS_AS(Config::load(sources), ConfigError);
}

TEST_CASE("the default caps read a 2 MiB session and 2048-deep JSON and pickle", "[core][limits]") {
    SessionCodec codec(keys(), session_key_salt("SessionStore"));
    PyDict big;
    for (int i = 0; i < 20000; ++i) big.append_absent("item" + std::to_string(i), PyValue(std::string(100, 'x')));
    DecodeResult r = codec.decode(codec.encode(PyValue(big), 1700000000));
    REQUIRE(r.ok());
    CHECK(r.data.as_dict().size() == 20000);

    // Django on Python 3.11 stops near 990 levels of JSON and 500 of pickle.
    PyValue deep(1);
    for (int i = 0; i < 2047; ++i) deep = PyValue(PyList{deep});
    PyValue session(PyDict{{"deep", deep}});
    CHECK(json_loads_latin1(json_dumps(session)) == session);
    CHECK(pickle_loads(pickle_dumps(session)) == session);
    PyValue deeper(PyDict{{"deep", PyValue(PyList{deep})}});
    CHECK_THROWS_AS(json_loads_latin1(json_dumps(deeper)), JsonDecodeError);
    CHECK_THROWS_AS(pickle_loads(pickle_dumps(deeper)), PickleError);
}

TEST_CASE("SIGTERM under an InterruptGuard is reported as exit 143, SIGINT as 130", "[cli][signals]") {
    using namespace sessionctl::cli;
    {
        InterruptGuard guard;
        CHECK_FALSE(interrupted());
        std::raise(SIGTERM);
        CHECK(interrupted());
        CHECK(interrupted_exit_code() == ExitCode::terminated);
        CHECK(to_int(interrupted_exit_code()) == 143);
    }
    {
        InterruptGuard guard;
        CHECK_FALSE(interrupted());
        std::raise(SIGINT);
        CHECK(interrupted());
        CHECK(interrupted_exit_code() == ExitCode::interrupted);
    }
}
