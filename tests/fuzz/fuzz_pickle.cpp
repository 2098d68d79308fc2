// Fuzz target: the safe pickle reader (core/pickle_codec), which reads what
// Django's cache backends store: attacker-influenced bytes from Redis,
// memcached, FileBasedCache files and DatabaseCache rows.
//
// pickle_loads documents PickleError (and its PickleRefusedError) only, so that
// is all that is caught. When the bytes load:
//   - pickle_dumps writes the value (a value the reader built is one Python
//     could hold), and loading that gives an equal value, whose dump is the
//     same bytes (a fixed point);
//   - python_repr renders it without throwing.
// Every error is one printable line (a refused global's name is escaped, so
// bytes from the pickle cannot drive a terminal). The same bytes are read once more with tight
// limits, so the limit checks themselves are exercised: again only PickleError
// may escape. pickle_load_prefix (FileBasedCache's expiry pickle) never claims
// more bytes than it was given.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/pickle_codec.hpp"
#include "tests/fuzz/fuzz_support.hpp"

namespace {

using namespace sessionctl;

PickleLimits tight_limits() {
    PickleLimits l;
    l.max_input_size = 4096;
    l.max_depth = 4;
    l.max_memo_size = 8;
    l.max_container_size = 8;
    l.max_values = 64;
    l.max_result_bytes = 256;
    l.max_int_bytes = 8;
    return l;
}

// An error is one line a terminal shows as it is: names taken from the
// pickle (a refused global's module and name) are escaped, not echoed.
void check_message(std::string_view message) {
    FUZZ_CHECK(!message.empty());
    for (unsigned char c : message) FUZZ_CHECK(c >= 0x20 && c != 0x7f);
}

void check_loaded(const PyValue& value) {
    const std::string dumped = pickle_dumps(value);
    const PyValue again = pickle_loads(dumped);
    FUZZ_CHECK(again == value);
    FUZZ_CHECK(pickle_dumps(again) == dumped);
    (void)python_repr(value);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view bytes(reinterpret_cast<const char*>(data), size);

    // The checks run outside the try blocks: a PickleError from pickle_dumps
    // or from reading our own output is a bug, not a refused input.
    std::optional<PickleLoadResult> loaded;
    try {
        loaded = pickle_load_prefix(bytes);
    } catch (const PickleRefusedError& e) {
        FUZZ_CHECK(!e.global().empty());
        check_message(e.what());
    } catch (const PickleError& e) {
        check_message(e.what());
    }
    if (loaded) {
        FUZZ_CHECK(loaded->consumed >= 1 && loaded->consumed <= bytes.size());
        check_loaded(loaded->value);
    }

    static const PickleLimits tight = tight_limits();
    std::optional<PyValue> small;
    try {
        small = pickle_loads(bytes, tight);
    } catch (const PickleError& e) {
        check_message(e.what());
    }
    if (small) {
        FUZZ_CHECK(loaded && *small == loaded->value);  // a limit only refuses, never changes the result
        check_loaded(*small);
    }
    return 0;
}
