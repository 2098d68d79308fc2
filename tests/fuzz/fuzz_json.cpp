// Fuzz target: json_loads_latin1 (Python's json.loads on latin-1 bytes).
// It documents JsonDecodeError only. When the bytes parse, json_dumps must
// write them (no JsonEncodeError: whatever loads produced, dumps can write),
// loading that again must give an equal value, and dumping it again the same
// bytes (json.dumps(json.loads(json.dumps(v))) == json.dumps(v)).

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/json_codec.hpp"
#include "tests/fuzz/fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace sessionctl;
    const std::string_view bytes(reinterpret_cast<const char*>(data), size);
    PyValue value;
    try {
        value = json_loads_latin1(bytes);
    } catch (const JsonDecodeError&) {
        return 0;
    }
    const std::string dumped = json_dumps(value);
    for (unsigned char c : dumped) FUZZ_CHECK(c >= 0x20 && c < 0x7f);  // ensure_ascii=True
    const PyValue again = json_loads_latin1(dumped);
    FUZZ_CHECK(again == value);
    FUZZ_CHECK(json_dumps(again) == dumped);
    return 0;
}
