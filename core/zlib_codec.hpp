#pragma once

// zlib as Python's zlib module uses it for signed values.

#include <cstddef>
#include <stdexcept>
#include <string>
#include <string_view>

namespace sessionctl {

class ZlibError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// The stream inflates past max_output: refused before more memory is spent.
class ZlibLimitError : public ZlibError {
public:
    using ZlibError::ZlibError;
};

// zlib.compress(data): zlib format, level 6, default window and strategy.
[[nodiscard]] std::string zlib_compress(std::string_view data);

// zlib.decompress(data): the stream must be complete; bytes after its end are
// ignored, as Python does. Output beyond max_output bytes is refused with
// ZlibLimitError (a zlib bomb must not exhaust memory).
[[nodiscard]] std::string zlib_decompress(std::string_view data, std::size_t max_output);

}  // namespace sessionctl
