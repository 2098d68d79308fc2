#pragma once

// MysqlTable's state and the helpers its two source files share
// (mysql_table.cpp: open, schema, single-row statements; mysql_table_bulk.cpp:
// clearsessions, conditional deletes, scans). Private to backends/mysql/.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "backends/mysql/mysql_connection.hpp"
#include "backends/mysql/mysql_table.hpp"

namespace sessionctl {

// A session key in a message: enough to find it, not enough to use it.
[[nodiscard]] std::string mysql_key_hint(std::string_view key);

struct MysqlTable::Impl {
    std::unique_ptr<MysqlConnection> conn;
    MysqlOptions options;
    MysqlSchema schema;
    std::string t;        // quoted table name
    std::string columns;  // session_key, session_data, expire_date
    bool schema_notes_taken = false;

    // The text Django's driver sends for a datetime: naive, in the
    // connection's zone (UTC or options.zone) when aware; a naive value is
    // UTC with USE_TZ (db_datetime).
    [[nodiscard]] std::string datetime_literal(const DateTime& value) const;
    // A datetime read back, naive UTC with USE_TZ (make_aware in options.zone).
    [[nodiscard]] std::optional<DateTime> read_datetime(const MysqlResult& r, std::size_t row,
                                                        std::size_t column) const;
    [[nodiscard]] StoredSession session(const MysqlResult& r, std::size_t row) const;
    [[nodiscard]] std::string quoted_list(const std::vector<std::string_view>& items) const;

    // Whether batches can skip rows a live request holds.
    [[nodiscard]] bool has_skip_locked() const;

    // Rollback unless committed: a failed batch leaves nothing half done.
    class Transaction {
    public:
        Transaction(Impl& impl, std::string_view what);
        ~Transaction();
        Transaction(const Transaction&) = delete;
        Transaction& operator=(const Transaction&) = delete;
        void commit();

    private:
        Impl& impl_;
        std::string what_;
        bool open_ = true;
    };

    [[nodiscard]] std::vector<const MysqlReference*> rejecting_references() const;
    [[nodiscard]] std::string refusal(const MysqlReference& ref, std::uint64_t count, std::string_view sample) const;
    // Before deleting `keys`: a rejecting foreign key that references any of
    // them refuses the whole operation, naming the table and constraint.
    void refuse_referenced(const std::vector<std::string_view>& keys, std::string_view what);
    // After a clearsessions: expired rows a foreign key kept make it fail,
    // saying which table holds them and what was removed.
    void refuse_kept_by_references(const std::string& cutoff, std::uint64_t removed);
    // NOT EXISTS for every rejecting foreign key: a batch never tries to
    // delete a row the database would refuse to (which would fail it whole).
    [[nodiscard]] std::string unreferenced_condition(std::string_view alias) const;

    // Classifies a failed write: a foreign key (table and constraint named),
    // a NOT NULL extra column, a read-only connection; else conn->fail().
    [[noreturn]] void fail_write(const MysqlFailure& failure, std::string_view what) const;
    MysqlResult write(std::string_view sql, std::string_view what);

    // True for a duplicate in a unique index on session_key alone (Django's
    // CreateError); false for any other failure; StoreError for a duplicate
    // in another unique index (a custom session model's).
    [[nodiscard]] bool key_taken(const MysqlFailure& failure) const;
    // "(key, data, expire_date)" for INSERT ... VALUES; the row has an expire_date.
    [[nodiscard]] std::string values_tuple(const StoredSession& row) const;

    // Within the caller's transaction: locks the rows by key, and updates
    // those whose data is still byte for byte `expected` to `data` (and
    // expire_date, when set). Returns the keys updated (views of `updates`).
    struct UnchangedUpdate {
        std::string_view key;
        std::string_view expected;
        std::string_view data;
        std::optional<DateTime> expire_date;
    };
    [[nodiscard]] std::vector<std::string_view> update_unchanged(const std::vector<UnchangedUpdate>& updates,
                                                                 std::string_view what);
};

}  // namespace sessionctl
