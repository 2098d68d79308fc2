#pragma once

// django-redis's compressors (django_redis/compressors/, 5.x; gzip from 6.0),
// byte for byte:
//   zlib  zlib.compress(v, 6)                        min_length 15
//   gzip  gzip.compress(v): level 9, header mtime = now, XFL 2, OS 255
//   lzma  lzma.compress(v, preset=4): .xz, CRC64     min_length 100
//   lz4   lz4.frame.compress(v): content size stored, linked 64 KiB blocks
//   zstd  pyzstd.compress(v): level 3, content size stored, no checksum
// A value is compressed only when longer than min_length (15, lzma 100).
// zlib and gzip use the linked zlib; liblzma, liblz4 and libzstd are opened
// with dlopen at first use (backends/cache/lib*_api.hpp).

#include <cstddef>
#include <stdexcept>
#include <string>
#include <string_view>

namespace sessionctl {

enum class CacheCompressor { identity, zlib, gzip, lzma, lz4, zstd };

// What django-redis's decompress() raises CompressorError for: the bytes are
// not in the compressor's format (django-redis then reads them as they are:
// a value written before the compressor was switched on, or too short to
// have been compressed).
class CompressorError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// The value inflates past the limit: refused, not read raw (a bomb must not
// exhaust memory, and it is not an uncompressed value either).
class DecompressedTooLarge : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// "zlib", "gzip", ...; "identity" for none.
[[nodiscard]] const char* compressor_name(CacheCompressor compressor);

// compress() as django-redis's compressor does it, min_length included (a
// short value comes back unchanged).
[[nodiscard]] std::string compress_value(CacheCompressor compressor, std::string_view bytes);

// decompress(); throws CompressorError or DecompressedTooLarge (above
// max_output bytes), StoreUnavailable when the library cannot be loaded.
[[nodiscard]] std::string decompress_value(CacheCompressor compressor, std::string_view bytes, std::size_t max_output);

}  // namespace sessionctl
