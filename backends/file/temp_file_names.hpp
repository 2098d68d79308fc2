#pragma once

// The names Django's save() gives its temporary files (internal to
// backends/file/): tempfile.mkstemp(dir=<the directory>, prefix=<file name> +
// "_out_") appends 8 characters of tempfile's alphabet. The save protocol
// (file_save.cpp) makes them; the sweep (temp_file_sweep.cpp) recognises
// those a dead writer left.

#include <cstddef>
#include <string_view>

namespace sessionctl::file_detail {

inline constexpr std::string_view kTempMarker = "_out_";
// tempfile._RandomNameSequence.characters and tempfile.TMP_MAX.
inline constexpr std::string_view kTempNameChars = "abcdefghijklmnopqrstuvwxyz0123456789_";
inline constexpr std::size_t kTempSuffixLength = 8;
inline constexpr int kTempAttempts = 10000;

}  // namespace sessionctl::file_detail
