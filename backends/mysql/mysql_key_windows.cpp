#include "backends/mysql/mysql_key_windows.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>

#include <fmt/format.h>

#include "backends/mysql/mysql_table_impl.hpp"

namespace sessionctl {

namespace {

constexpr std::string_view kDigits = "0123456789abcdefghijklmnopqrstuvwxyz";

std::optional<std::uint64_t> parse_count(const MysqlResult& r, std::size_t column) {
    if (r.rows() == 0 || r.is_null(0, column)) return std::nullopt;
    const std::string& text = r.text(0, column);
    std::uint64_t value = 0;
    const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (error != std::errc() || end != text.data() + text.size()) return std::nullopt;
    return value;
}

}  // namespace

std::optional<std::uint64_t> mysql_key_position(std::string_view key) {
    std::uint64_t position = 0;
    for (std::size_t i = 0; i < kKeyPositionDigits; ++i) {
        const char c = i < key.size() ? key[i] : '0';
        const std::size_t digit = kDigits.find(c);
        if (digit == std::string_view::npos) return std::nullopt;
        position = position * kDigits.size() + digit;
    }
    return position;
}

std::string mysql_key_at(std::uint64_t position) {
    std::string key(kKeyPositionDigits, '0');
    for (std::size_t i = kKeyPositionDigits; i-- > 0; position /= kDigits.size())
        key[i] = kDigits[position % kDigits.size()];
    return key;
}

MysqlKeyWindows::MysqlKeyWindows(MysqlTable::Impl& impl, std::string cutoff, std::string_view what)
    : impl_(impl), cutoff_(std::move(cutoff)), what_(what), byte_bound_rows_(MysqlTable::kMaxBatchRows) {
    table_rows_ = estimated_rows("TRUE").value_or(0);
    // Bytes a row takes on average (InnoDB's statistics, session_data
    // included, so an over-estimate of a window's expired session_data).
    MysqlResult r = impl_.conn->exec(
        fmt::format("SELECT AVG_ROW_LENGTH FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND "
                    "TABLE_NAME = {}",
                    impl_.conn->quote(impl_.options.table)),
        what_);
    const std::uint64_t row_bytes = parse_count(r, 0).value_or(0);
    // Without the figure, estimates cannot bound a window's bytes: measure.
    if (row_bytes == 0) table_rows_ = 0;
    else
        byte_bound_rows_ =
            std::clamp<std::size_t>(MysqlTable::kMaxBatchBytes / row_bytes, 1, MysqlTable::kMaxBatchRows);
}

std::string MysqlKeyWindows::after_low() const {
    return low_ ? fmt::format("`session_key` > {}", impl_.conn->quote(*low_)) : "TRUE";
}

std::optional<std::uint64_t> MysqlKeyWindows::estimated_rows(const std::string& range) {
    MysqlResult r = impl_.conn->exec(fmt::format("EXPLAIN SELECT 1 FROM {} WHERE {}", impl_.t, range), what_);
    // EXPLAIN's `rows` column: MySQL (since 5.7) has `partitions` before it.
    return parse_count(r, impl_.conn->is_mariadb() ? 8 : 9);
}

std::optional<KeyWindow> MysqlKeyWindows::next(std::size_t rows) {
    if (done_) return std::nullopt;
    const std::size_t target = std::max<std::size_t>(1, std::min({rows, MysqlTable::kMaxBatchRows, byte_bound_rows_}));
    if (table_rows_ >= kEstimateFromWindows * target)
        if (auto window = estimated(target)) return window;
    return measured(target);
}

std::optional<KeyWindow> MysqlKeyWindows::estimated(std::size_t rows) {
    const std::optional<std::uint64_t> from = low_ ? mysql_key_position(*low_) : std::uint64_t{0};
    if (!from) return std::nullopt;
    const std::uint64_t left = kKeyPositions - *from;
    if (span_ == 0)  // the table's share of key positions: keys spread evenly
        span_ = static_cast<std::uint64_t>(static_cast<double>(kKeyPositions) * static_cast<double>(rows) /
                                           static_cast<double>(table_rows_));
    const auto window_of = [&](std::uint64_t span) {
        KeyWindow window;
        window.last = span >= left;
        window.range = after_low();
        if (!window.last) {
            window.end_key = mysql_key_at(*from + span);
            window.range += fmt::format(" AND `session_key` <= {}", impl_.conn->quote(window.end_key));
        }
        return window;
    };
    // The span is searched between one known to hold too few rows (under
    // half those asked for) and one known to hold too many (over twice):
    // scaled by the estimate's ratio until both are known, then halved
    // between them. A run of keys one position cannot split
    // ends the search: the window up to it is taken, then the run measured.
    constexpr int kAttempts = 80;
    std::uint64_t too_few = 0;
    std::optional<std::uint64_t> too_many;
    std::uint64_t span = std::clamp<std::uint64_t>(span_, 1, left);
    for (int attempt = 0; attempt < kAttempts; ++attempt) {
        KeyWindow window = window_of(span);
        const std::optional<std::uint64_t> estimate = estimated_rows(window.range);
        if (!estimate) return std::nullopt;
        const bool over = *estimate > 2 * rows;
        if (!over && (window.last || 2 * *estimate >= rows)) {
            span_ = span;
            if (window.last) done_ = true;
            else low_ = window.end_key;
            return window;
        }
        if (over) too_many = span;
        else too_few = span;
        if (too_many && *too_many - too_few <= 1) break;
        if (too_many && too_few > 0) {
            // Geometric while far apart, then plain halving: at most ~70
            // steps over 36^12 positions, each a few index dives.
            span = *too_many > 2 * too_few ? static_cast<std::uint64_t>(std::sqrt(static_cast<double>(too_few) *
                                                                                  static_cast<double>(*too_many)))
                                           : too_few + (*too_many - too_few) / 2;
            span = std::clamp(span, too_few + 1, *too_many - 1);
        } else {
            const double share = static_cast<double>(rows) / static_cast<double>(std::max<std::uint64_t>(*estimate, 1));
            // Clamped as a double: past 2^64 the conversion is undefined.
            const double scaled =
                std::min(static_cast<double>(span) * std::clamp(share, 1.0 / 1024, 1024.0), static_cast<double>(left));
            span = static_cast<std::uint64_t>(scaled);
            span = too_many ? std::clamp<std::uint64_t>(span, 1, *too_many - 1)
                            : std::clamp<std::uint64_t>(span, too_few + 1, left);
        }
    }
    if (too_few == 0) return std::nullopt;  // even one position holds too many: measure
    KeyWindow window = window_of(too_few);
    span_ = too_few;
    low_ = window.end_key;
    return window;
}

std::optional<KeyWindow> MysqlKeyWindows::measured(std::size_t rows) {
    // The next `width` keys, the last of them, and the bytes of
    // session_data their expired rows hold (the write set), in one statement
    // over the clustered index; narrowed until those bytes fit (one key at
    // least, however long its row).
    MysqlConnection& conn = *impl_.conn;
    const std::string after = after_low();
    std::size_t width = rows;
    std::size_t keys = 0;
    std::string end_key;
    for (;;) {
        MysqlResult measured =
            conn.exec(fmt::format("SELECT COUNT(*), MAX(w.k), COALESCE(SUM(w.b), 0) FROM (SELECT `session_key` AS k, "
                                  "IF(`expire_date` < {}, LENGTH(`session_data`), 0) AS b FROM {} WHERE {} ORDER BY "
                                  "`session_key` LIMIT {}) w",
                                  cutoff_, impl_.t, after, width),
                      what_);
        keys = std::stoull(measured.text(0, 0));
        if (keys == 0) break;
        end_key = measured.text(0, 1);
        const std::uint64_t bytes = std::stoull(measured.text(0, 2));
        const auto fitting = static_cast<std::size_t>(static_cast<double>(keys) * MysqlTable::kMaxBatchBytes /
                                                      static_cast<double>(std::max<std::uint64_t>(bytes, 1)));
        byte_bound_rows_ = std::clamp<std::size_t>(fitting, 1, MysqlTable::kMaxBatchRows);
        if (bytes <= MysqlTable::kMaxBatchBytes || keys == 1) break;
        width = std::min(byte_bound_rows_, keys - 1);
    }
    if (keys == 0) {
        done_ = true;
        return std::nullopt;
    }
    KeyWindow window;
    window.range = fmt::format("{} AND `session_key` <= {}", after, conn.quote(end_key));
    window.end_key = end_key;
    window.last = keys < width;
    if (window.last) done_ = true;
    low_ = std::move(end_key);
    return window;
}

}  // namespace sessionctl
