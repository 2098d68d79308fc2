#include "core/zlib_codec.hpp"

#include <zlib.h>

#include <algorithm>

#include <fmt/format.h>

namespace sessionctl {

std::string zlib_compress(std::string_view data) {
    uLongf size = compressBound(static_cast<uLong>(data.size()));
    std::string out(size, '\0');
    int rc = compress2(reinterpret_cast<Bytef*>(out.data()), &size, reinterpret_cast<const Bytef*>(data.data()),
                       static_cast<uLong>(data.size()), Z_DEFAULT_COMPRESSION);
    if (rc != Z_OK) throw ZlibError(fmt::format("zlib compress failed ({})", rc));
    out.resize(size);
    return out;
}

namespace {

// One inflate state per thread, reset between streams: a scan inflates
// millions of small payloads, and inflateInit allocates about 40 KB each time.
class Inflater {
public:
    Inflater() { ready_ = inflateInit(&stream_) == Z_OK; }
    ~Inflater() {
        if (ready_) inflateEnd(&stream_);
    }
    Inflater(const Inflater&) = delete;
    Inflater& operator=(const Inflater&) = delete;

    z_stream& fresh() {
        if (!ready_ || inflateReset(&stream_) != Z_OK) throw ZlibError("zlib init failed");
        return stream_;
    }

private:
    z_stream stream_{};
    bool ready_ = false;
};

}  // namespace

std::string zlib_decompress(std::string_view data, std::size_t max_output) {
    thread_local Inflater inflater;
    z_stream& stream = inflater.fresh();
    stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
    stream.avail_in = static_cast<uInt>(data.size());
    // Straight into the result, grown as needed (session JSON inflates 2-5x).
    std::string out;
    out.resize(std::min<std::size_t>(max_output + 1, std::max<std::size_t>(256, data.size() * 4)));
    std::size_t used = 0;
    for (;;) {
        stream.next_out = reinterpret_cast<Bytef*>(out.data() + used);
        stream.avail_out = static_cast<uInt>(out.size() - used);
        const int rc = inflate(&stream, Z_NO_FLUSH);
        used = out.size() - stream.avail_out;
        if (rc == Z_STREAM_END) break;
        if (rc != Z_OK && !(rc == Z_BUF_ERROR && stream.avail_out == 0)) {
            std::string why =
                rc == Z_BUF_ERROR ? "incomplete or truncated stream" : (stream.msg ? stream.msg : "invalid data");
            throw ZlibError(fmt::format("zlib: {}", why));
        }
        if (stream.avail_out == 0) {
            if (out.size() > max_output)
                throw ZlibLimitError(fmt::format("zlib: inflates to more than {} bytes", max_output));
            out.resize(std::min<std::size_t>(max_output + 1, out.size() * 2));
        }
    }
    if (used > max_output) throw ZlibLimitError(fmt::format("zlib: inflates to more than {} bytes", max_output));
    out.resize(used);
    return out;
}

}  // namespace sessionctl
