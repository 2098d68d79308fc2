#include "backends/cache/value_compression.hpp"

#include <zlib.h>

#include <cstdint>
#include <ctime>
#include <memory>

#include <fmt/format.h>

#include "backends/cache/liblz4_api.hpp"
#include "backends/cache/liblzma_api.hpp"
#include "backends/cache/libzstd_api.hpp"
#include "core/zlib_codec.hpp"

namespace sessionctl {
namespace {

// django-redis's min_length: a value is compressed only when longer.
constexpr std::size_t kMinLength = 15;
constexpr std::size_t kLzmaMinLength = 100;
constexpr std::size_t kChunk = 64u << 10;

void append_checked(std::string& out, const char* data, std::size_t n, std::size_t max_output, const char* what) {
    if (out.size() + n > max_output)
        throw DecompressedTooLarge(fmt::format("{} value inflates past {} bytes", what, max_output));
    out.append(data, n);
}

void put_le32(std::string& out, std::uint32_t v) {
    for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}

std::uint32_t get_le32(const unsigned char* p) {
    return std::uint32_t{p[0]} | std::uint32_t{p[1]} << 8 | std::uint32_t{p[2]} << 16 | std::uint32_t{p[3]} << 24;
}

// ---- gzip (Python's gzip.compress / gzip.decompress over zlib)

// gzip.compress(data): compresslevel 9, a header with the current time as
// mtime, XFL 2 (best compression), OS 255 (unknown), a raw deflate stream
// (wbits -15, memLevel 8), CRC-32 and size.
std::string gzip_compress(std::string_view data) {
    std::string out("\x1f\x8b\x08\x00", 4);
    put_le32(out, static_cast<std::uint32_t>(std::time(nullptr)));
    out.push_back('\x02');
    out.push_back('\xff');
    z_stream z{};
    if (deflateInit2(&z, 9, Z_DEFLATED, -MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        throw std::runtime_error("gzip: deflateInit2 failed");
    const std::size_t header = out.size();
    out.resize(header + deflateBound(&z, static_cast<uLong>(data.size())));
    z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
    z.avail_in = static_cast<uInt>(data.size());
    z.next_out = reinterpret_cast<Bytef*>(out.data() + header);
    z.avail_out = static_cast<uInt>(out.size() - header);
    const int rc = deflate(&z, Z_FINISH);
    const std::size_t written = out.size() - header - z.avail_out;
    deflateEnd(&z);
    if (rc != Z_STREAM_END) throw std::runtime_error("gzip: deflate did not finish");
    out.resize(header + written);
    put_le32(out, static_cast<std::uint32_t>(
                      crc32(0, reinterpret_cast<const Bytef*>(data.data()), static_cast<uInt>(data.size()))));
    put_le32(out, static_cast<std::uint32_t>(data.size() & 0xFFFFFFFFu));
    return out;
}

// The length of the gzip member header at the start of `data` (gzip's
// _read_gzip_header: FEXTRA, FNAME, FCOMMENT, FHCRC).
std::size_t gzip_header_length(std::string_view data) {
    if (data.size() < 10 || data[0] != '\x1f' || data[1] != '\x8b') throw CompressorError("Not a gzipped file");
    if (data[2] != '\x08') throw CompressorError("Unknown compression method");
    const auto flags = static_cast<unsigned char>(data[3]);
    std::size_t pos = 10;
    auto need = [&](std::size_t n) {
        if (data.size() - pos < n) throw CompressorError("Compressed file ended before the end-of-stream marker");
    };
    if (flags & 4) {  // FEXTRA
        need(2);
        const std::size_t extra = static_cast<unsigned char>(data[pos]) | static_cast<unsigned char>(data[pos + 1])
                                                                              << 8;
        pos += 2;
        need(extra);
        pos += extra;
    }
    for (unsigned char bit : {8, 16}) {  // FNAME, FCOMMENT: zero-terminated
        if (!(flags & bit)) continue;
        const std::size_t zero = data.find('\0', pos);
        if (zero == std::string_view::npos)
            throw CompressorError("Compressed file ended before the end-of-stream marker");
        pos = zero + 1;
    }
    if (flags & 2) {  // FHCRC
        need(2);
        pos += 2;
    }
    return pos;
}

// gzip.decompress: every member, each CRC- and size-checked; zero bytes
// between members are skipped.
std::string gzip_decompress(std::string_view data, std::size_t max_output) {
    std::string out;
    while (!data.empty()) {
        data.remove_prefix(gzip_header_length(data));
        z_stream z{};
        if (inflateInit2(&z, -MAX_WBITS) != Z_OK) throw std::runtime_error("gzip: inflateInit2 failed");
        std::unique_ptr<z_stream, int (*)(z_stream*)> guard(&z, inflateEnd);
        z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
        z.avail_in = static_cast<uInt>(data.size());
        const std::size_t member_start = out.size();
        char buffer[kChunk];
        int rc = Z_OK;
        while (rc != Z_STREAM_END) {
            z.next_out = reinterpret_cast<Bytef*>(buffer);
            z.avail_out = sizeof buffer;
            rc = inflate(&z, Z_NO_FLUSH);
            if (rc != Z_OK && rc != Z_STREAM_END && rc != Z_BUF_ERROR)
                throw CompressorError(fmt::format("gzip: {}", z.msg ? z.msg : "invalid deflate data"));
            append_checked(out, buffer, sizeof buffer - z.avail_out, max_output, "gzip");
            if (rc == Z_BUF_ERROR && z.avail_in == 0)
                throw CompressorError("Compressed file ended before the end-of-stream marker was reached");
        }
        data.remove_prefix(data.size() - z.avail_in);
        if (data.size() < 8) throw CompressorError("Compressed file ended before the end-of-stream marker was reached");
        const auto* trailer = reinterpret_cast<const unsigned char*>(data.data());
        const std::string_view member(out.data() + member_start, out.size() - member_start);
        const auto crc = static_cast<std::uint32_t>(
            crc32(0, reinterpret_cast<const Bytef*>(member.data()), static_cast<uInt>(member.size())));
        if (get_le32(trailer) != crc) throw CompressorError("CRC check failed");
        if (get_le32(trailer + 4) != (member.size() & 0xFFFFFFFFu))
            throw CompressorError("Incorrect length of data produced");
        data.remove_prefix(8);
        while (!data.empty() && data.front() == '\0') data.remove_prefix(1);
    }
    return out;
}

// ---- lzma (Python's lzma module over liblzma)

struct LzmaStream {
    lzma_stream s = LZMA_STREAM_INIT;
    ~LzmaStream() { liblzma().lzma_end(&s); }
};

// lzma.compress(data, preset=4): FORMAT_XZ, CHECK_CRC64, fed as
// LZMACompressor does (LZMA_RUN with all the input, then LZMA_FINISH).
std::string lzma_compress(std::string_view data) {
    const LiblzmaApi& lz = liblzma();
    LzmaStream stream;
    if (lz.lzma_easy_encoder(&stream.s, 4, LZMA_CHECK_CRC64) != LZMA_OK)
        throw std::runtime_error("lzma: cannot set up the encoder");
    stream.s.next_in = reinterpret_cast<const std::uint8_t*>(data.data());
    stream.s.avail_in = data.size();
    std::string out;
    char buffer[kChunk];
    for (lzma_action action : {LZMA_RUN, LZMA_FINISH}) {
        for (;;) {
            stream.s.next_out = reinterpret_cast<std::uint8_t*>(buffer);
            stream.s.avail_out = sizeof buffer;
            const lzma_ret rc = lz.lzma_code(&stream.s, action);
            out.append(buffer, sizeof buffer - stream.s.avail_out);
            if (rc == LZMA_STREAM_END) break;
            if (rc != LZMA_OK) throw std::runtime_error(fmt::format("lzma: encoder error {}", static_cast<int>(rc)));
            if (action == LZMA_RUN && stream.s.avail_in == 0 && stream.s.avail_out != 0) break;
        }
    }
    return out;
}

// lzma.decompress(data): FORMAT_AUTO (.xz or .lzma), concatenated streams.
std::string lzma_decompress(std::string_view data, std::size_t max_output) {
    const LiblzmaApi& lz = liblzma();
    LzmaStream stream;
    if (lz.lzma_auto_decoder(&stream.s, UINT64_MAX, LZMA_CONCATENATED) != LZMA_OK)
        throw std::runtime_error("lzma: cannot set up the decoder");
    stream.s.next_in = reinterpret_cast<const std::uint8_t*>(data.data());
    stream.s.avail_in = data.size();
    std::string out;
    char buffer[kChunk];
    for (;;) {
        stream.s.next_out = reinterpret_cast<std::uint8_t*>(buffer);
        stream.s.avail_out = sizeof buffer;
        const lzma_ret rc = lz.lzma_code(&stream.s, LZMA_FINISH);
        append_checked(out, buffer, sizeof buffer - stream.s.avail_out, max_output, "lzma");
        if (rc == LZMA_STREAM_END) return out;
        if (rc == LZMA_FORMAT_ERROR) throw CompressorError("Input format not supported by decoder");
        if (rc != LZMA_OK)
            throw CompressorError(fmt::format("lzma: corrupt input (liblzma error {})", static_cast<int>(rc)));
        if (stream.s.avail_in == 0 && stream.s.avail_out != 0)
            throw CompressorError("Compressed data ended before the end-of-stream marker was reached");
    }
}

// ---- lz4 (lz4.frame over liblz4)

// lz4.frame.compress(data): compression level 0, default (64 KiB) linked
// blocks, no checksums, the content size stored (store_size=True).
std::string lz4_compress(std::string_view data) {
    const Liblz4Api& lz = liblz4();
    LZ4F_preferences_t prefs{};
    prefs.frameInfo.contentSize = data.size();
    std::string out(lz.LZ4F_compressFrameBound(data.size(), &prefs), '\0');
    const std::size_t n = lz.LZ4F_compressFrame(out.data(), out.size(), data.data(), data.size(), &prefs);
    if (lz.LZ4F_isError(n)) throw std::runtime_error(fmt::format("lz4: {}", lz.LZ4F_getErrorName(n)));
    out.resize(n);
    return out;
}

// lz4.frame.decompress(data): one frame.
std::string lz4_decompress(std::string_view data, std::size_t max_output) {
    const Liblz4Api& lz = liblz4();
    LZ4F_dctx* raw = nullptr;
    if (lz.LZ4F_isError(lz.LZ4F_createDecompressionContext(&raw, LZ4F_VERSION)))
        throw std::runtime_error("lz4: cannot create a decompression context");
    std::unique_ptr<LZ4F_dctx, void (*)(LZ4F_dctx*)> ctx(
        raw, [](LZ4F_dctx* c) { (void)liblz4().LZ4F_freeDecompressionContext(c); });
    std::string out;
    char buffer[kChunk];
    const char* in = data.data();
    std::size_t left = data.size();
    for (;;) {
        std::size_t out_size = sizeof buffer;
        std::size_t in_size = left;
        const std::size_t hint = lz.LZ4F_decompress(ctx.get(), buffer, &out_size, in, &in_size, nullptr);
        if (lz.LZ4F_isError(hint)) throw CompressorError(fmt::format("lz4: {}", lz.LZ4F_getErrorName(hint)));
        append_checked(out, buffer, out_size, max_output, "lz4");
        in += in_size;
        left -= in_size;
        if (hint == 0) break;  // the frame is complete
        if (left == 0 && out_size == 0) throw CompressorError("lz4: the frame is truncated");
    }
    if (left != 0) throw CompressorError("lz4: bytes after the end of the frame");
    return out;
}

// ---- zstd (pyzstd over libzstd)

// pyzstd.compress(data): level 3 (ZSTD_CLEVEL_DEFAULT), the content size in
// the frame header, no checksum.
std::string zstd_compress(std::string_view data) {
    const LibzstdApi& zs = libzstd();
    std::string out(zs.ZSTD_compressBound(data.size()), '\0');
    const std::size_t n = zs.ZSTD_compress(out.data(), out.size(), data.data(), data.size(), 3);
    if (zs.ZSTD_isError(n)) throw std::runtime_error(fmt::format("zstd: {}", zs.ZSTD_getErrorName(n)));
    out.resize(n);
    return out;
}

// pyzstd.decompress(data): every frame; a truncated one is an error. The
// stream and its buffer are kept per thread: creating them (a 128 KiB window
// and buffer) cost more than decompressing a session.
std::string zstd_decompress(std::string_view data, std::size_t max_output) {
    const LibzstdApi& zs = libzstd();
    struct Stream {
        ZSTD_DStream* d = nullptr;
        std::string buffer;
        ~Stream() {
            if (d) (void)libzstd().ZSTD_freeDStream(d);
        }
    };
    thread_local Stream stream;
    if (!stream.d) {
        stream.d = zs.ZSTD_createDStream();
        stream.buffer.assign(zs.ZSTD_DStreamOutSize(), '\0');
    }
    if (!stream.d || zs.ZSTD_isError(zs.ZSTD_initDStream(stream.d)))
        throw std::runtime_error("zstd: cannot create a decompression stream");
    ZSTD_DStream* const ctx = stream.d;
    std::string& buffer = stream.buffer;
    std::string out;
    ZSTD_inBuffer in{data.data(), data.size(), 0};
    std::size_t pending = 1;  // 0 once a frame is complete
    while (in.pos < in.size) {
        ZSTD_outBuffer o{buffer.data(), buffer.size(), 0};
        pending = zs.ZSTD_decompressStream(ctx, &o, &in);
        if (zs.ZSTD_isError(pending)) throw CompressorError(fmt::format("zstd: {}", zs.ZSTD_getErrorName(pending)));
        append_checked(out, buffer.data(), o.pos, max_output, "zstd");
    }
    // Output still held inside the decoder once all input is consumed.
    while (pending != 0) {
        ZSTD_outBuffer o{buffer.data(), buffer.size(), 0};
        pending = zs.ZSTD_decompressStream(ctx, &o, &in);
        if (zs.ZSTD_isError(pending)) throw CompressorError(fmt::format("zstd: {}", zs.ZSTD_getErrorName(pending)));
        append_checked(out, buffer.data(), o.pos, max_output, "zstd");
        if (o.pos == 0 && pending != 0) throw CompressorError("zstd: the data ends in an incomplete frame");
    }
    return out;
}

}  // namespace

const char* compressor_name(CacheCompressor compressor) {
    switch (compressor) {
        case CacheCompressor::identity: return "identity";
        case CacheCompressor::zlib: return "zlib";
        case CacheCompressor::gzip: return "gzip";
        case CacheCompressor::lzma: return "lzma";
        case CacheCompressor::lz4: return "lz4";
        case CacheCompressor::zstd: return "zstd";
    }
    return "?";
}

std::string compress_value(CacheCompressor compressor, std::string_view bytes) {
    const std::size_t min_length = compressor == CacheCompressor::lzma ? kLzmaMinLength : kMinLength;
    if (compressor == CacheCompressor::identity || bytes.size() <= min_length) return std::string(bytes);
    switch (compressor) {
        case CacheCompressor::zlib: return zlib_compress(bytes);
        case CacheCompressor::gzip: return gzip_compress(bytes);
        case CacheCompressor::lzma: return lzma_compress(bytes);
        case CacheCompressor::lz4: return lz4_compress(bytes);
        case CacheCompressor::zstd: return zstd_compress(bytes);
        case CacheCompressor::identity: break;
    }
    return std::string(bytes);
}

std::string decompress_value(CacheCompressor compressor, std::string_view bytes, std::size_t max_output) {
    switch (compressor) {
        case CacheCompressor::identity: return std::string(bytes);
        case CacheCompressor::zlib: try { return zlib_decompress(bytes, max_output);
            } catch (const ZlibLimitError& e) {
                throw DecompressedTooLarge(e.what());
            } catch (const ZlibError& e) {
                throw CompressorError(e.what());
            }
        case CacheCompressor::gzip: return gzip_decompress(bytes, max_output);
        case CacheCompressor::lzma: return lzma_decompress(bytes, max_output);
        case CacheCompressor::lz4: return lz4_decompress(bytes, max_output);
        case CacheCompressor::zstd: return zstd_decompress(bytes, max_output);
    }
    return std::string(bytes);
}

}  // namespace sessionctl
