#pragma once

// MessagePack as django-redis's MSGPackSerializer uses it (msgpack-python 1.0):
//   dumps: msgpack.dumps(value)  (use_bin_type=True: str -> str, bytes -> bin;
//          the smallest int/str/array/map form; float as float64)
//   loads: msgpack.loads(value, raw=False)  (str must be UTF-8; map keys
//          str only (strict_map_key); arrays become lists)
//
// Writing goes through msgpack-c's packer (header-only: pack_template.h, the
// template msgpack-python itself compiles), so no library is linked or loaded.
// Reading is a small reader of our own: msgpack-c's unpacker is built with a
// fixed nesting limit of 32 levels (MSGPACK_EMBED_STACK_SIZE), while
// msgpack-python writes up to 511 and reads 1024, so a session Django reads
// would be refused; the reader also needs Python's rules (UTF-8 checks, str
// keys, no trailing bytes) that msgpack-c leaves to its caller.

#include <stdexcept>
#include <string>
#include <string_view>

#include "core/pyvalue.hpp"

namespace sessionctl {

// msgpack.loads would raise (malformed, truncated, extra data, a non-str key,
// invalid UTF-8, an ext type), or the value has no PyValue form.
class MsgpackError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// msgpack.dumps would raise TypeError / OverflowError / UnicodeEncodeError
// (a datetime, a set, an int beyond 64 bits, a lone surrogate).
class MsgpackEncodeError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

[[nodiscard]] std::string msgpack_dumps(const PyValue& value);

[[nodiscard]] PyValue msgpack_loads(std::string_view bytes);

}  // namespace sessionctl
