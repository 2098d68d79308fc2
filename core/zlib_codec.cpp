#include "core/zlib_codec.hpp"

#include <zlib.h>

#include <fmt/format.h>

namespace sessionctl {

std::string zlib_compress(std::string_view data) {
    uLongf size = compressBound(static_cast<uLong>(data.size()));
    std::string out(size, '\0');
    int rc = compress2(reinterpret_cast<Bytef*>(out.data()), &size,
                       reinterpret_cast<const Bytef*>(data.data()), static_cast<uLong>(data.size()),
                       Z_DEFAULT_COMPRESSION);
    if (rc != Z_OK) throw ZlibError(fmt::format("zlib compress failed ({})", rc));
    out.resize(size);
    return out;
}

std::string zlib_decompress(std::string_view data, std::size_t max_output) {
    z_stream stream{};
    if (inflateInit(&stream) != Z_OK) throw ZlibError("zlib init failed");
    stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
    stream.avail_in = static_cast<uInt>(data.size());
    std::string out;
    char buffer[16384];
    int rc = Z_OK;
    while (rc != Z_STREAM_END) {
        stream.next_out = reinterpret_cast<Bytef*>(buffer);
        stream.avail_out = sizeof buffer;
        rc = inflate(&stream, Z_NO_FLUSH);
        if (rc != Z_OK && rc != Z_STREAM_END) {
            std::string why = rc == Z_BUF_ERROR ? "incomplete or truncated stream"
                                                : (stream.msg ? stream.msg : "invalid data");
            inflateEnd(&stream);
            throw ZlibError(fmt::format("zlib: {}", why));
        }
        out.append(buffer, sizeof buffer - stream.avail_out);
        if (out.size() > max_output) {
            inflateEnd(&stream);
            throw ZlibLimitError(fmt::format("zlib: inflates to more than {} bytes", max_output));
        }
    }
    inflateEnd(&stream);
    return out;
}

}  // namespace sessionctl
