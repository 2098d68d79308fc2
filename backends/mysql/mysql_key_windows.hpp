#pragma once

// Where clearsessions' next batch ends along the primary key (InnoDB's
// clustered index), on MySQL and MariaDB.
//
// A window is the range of keys after the last window's end, holding about
// the number of rows the pacer asks for. Finding its end by reading the rows
// (ORDER BY session_key LIMIT n) reads every row twice, once more in the
// DELETE: at 1M rows that was 40% of the job. On a large table the window is
// instead placed by key position and sized by the optimizer's estimate:
// Django's keys are 32 random characters of [0-9a-z], so a key's first 12
// characters read as a base-36 number place it along the index, and EXPLAIN's
// row count for a primary-key range (InnoDB's records_in_range: a few index
// dives, no rows read) says how many rows lie between two such positions.
// Where that cannot work — a small table (estimates are then coarse, and an
// exact count is cheap), a key made of other characters, or a run of keys
// sharing a long prefix — the window is measured by reading it as before.
//
// Windows are contiguous, (previous end, end], the last one open-ended: every
// key lies in exactly one of them whatever characters it holds or however the
// collation orders them. Only their sizes rest on the estimates.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "backends/mysql/mysql_table.hpp"

namespace sessionctl {

// Positions of keys along the index: the first kKeyPositionDigits characters
// as base-36 digits ("0"-"9", "a"-"z"); a shorter key is padded with "0".
inline constexpr std::size_t kKeyPositionDigits = 12;
inline constexpr std::uint64_t kKeyPositions = 4738381338321616896ULL;  // 36^12
// nullopt when one of those characters is not a digit or a lowercase letter
// (its place in the collation's order is not known here).
[[nodiscard]] std::optional<std::uint64_t> mysql_key_position(std::string_view key);
// The kKeyPositionDigits-character key at `position` (< kKeyPositions); it
// sorts after every key whose position is lower, in any collation.
[[nodiscard]] std::string mysql_key_at(std::uint64_t position);

struct KeyWindow {
    std::string range;    // SQL condition on `session_key`
    std::string end_key;  // the last key covered; empty when open-ended
    bool last = false;    // no key lies past it
};

class MysqlKeyWindows {
public:
    // Tables estimated to hold fewer than this many windows' rows are measured.
    static constexpr std::uint64_t kEstimateFromWindows = 16;

    MysqlKeyWindows(MysqlTable::Impl& impl, std::string cutoff, std::string_view what);

    // The window after the last one returned, of about `rows` keys (live and
    // expired) and, on measured windows, at most MysqlTable::kMaxBatchBytes
    // of expired session_data (on estimated ones, about that much by the
    // table's average row length); nullopt when no key is left.
    [[nodiscard]] std::optional<KeyWindow> next(std::size_t rows);

private:
    MysqlTable::Impl& impl_;
    const std::string cutoff_;
    const std::string what_;
    std::optional<std::string> low_;  // the end of the last window
    bool done_ = false;
    std::uint64_t table_rows_ = 0;  // the optimizer's estimate
    std::size_t byte_bound_rows_;   // rows a window may hold for its write set
    std::uint64_t span_ = 0;        // key positions the next estimated window covers

    [[nodiscard]] std::string after_low() const;
    [[nodiscard]] std::optional<std::uint64_t> estimated_rows(const std::string& range);
    [[nodiscard]] std::optional<KeyWindow> estimated(std::size_t rows);
    [[nodiscard]] std::optional<KeyWindow> measured(std::size_t rows);
};

}  // namespace sessionctl
