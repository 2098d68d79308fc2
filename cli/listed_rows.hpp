#pragma once

// What inspect and copy remember of a table scan before they scan the shadow
// records (cached_db's cached copies): which keys it listed.

#include <algorithm>
#include <cstddef>
#include <functional>
#include <string_view>
#include <vector>

namespace sessionctl::cli {

// The keys a table scan listed, as 64-bit hashes (8 bytes a row, at most
// kMax of them): the cache-copy scan then asks the table only about copies
// whose row was not listed, not one query per copy. A row-less copy hidden
// by a hash collision would take ~2^64 / rows copies; a full set only costs
// the queries it would have saved.
class ListedRows {
public:
    void add(std::string_view key) {
        if (hashes_.size() < kMax) hashes_.push_back(std::hash<std::string_view>{}(key));
    }
    void seal() { std::sort(hashes_.begin(), hashes_.end()); }
    [[nodiscard]] bool listed(std::string_view key) const {
        return std::binary_search(hashes_.begin(), hashes_.end(), std::hash<std::string_view>{}(key));
    }

private:
    static constexpr std::size_t kMax = 4'000'000;  // 32 MB
    std::vector<std::size_t> hashes_;
};

}  // namespace sessionctl::cli
