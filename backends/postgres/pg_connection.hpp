#pragma once

// One libpq connection, the only place libpq appears (libpq-fe.h stays in the
// .cpp; libpq itself is dlopen'ed on first use, see backends/libpq_api.hpp, and
// its absence is a StoreUnavailable). Statements go out with PQexecParams in text format; errors come back
// as the store error kinds sessionctl reports, with SQLSTATE and the fields
// PostgreSQL names (constraint, table, column) for callers that must tell
// "key taken" from any other failure. No message ever holds a password: we
// build them from the server's primary message and PQhost/PQport/PQdb/PQuser.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sessionctl {

// libpq keyword/value pairs, in order (a later keyword overrides an earlier
// one; the first "dbname" may be a postgres:// URI or a conninfo string).
using PgParams = std::vector<std::pair<std::string, std::string>>;

// The type a parameter is sent as; unknown lets the server infer it from
// the context (a column), as an untyped literal would.
enum class PgType : std::uint32_t { unknown = 0, text = 25, timestamp = 1114, timestamptz = 1184, text_array = 1009 };

struct PgParam {
    std::optional<std::string> value;  // nullopt: NULL
    PgType type = PgType::unknown;
};

// What went wrong with one statement (empty sqlstate: the connection failed).
struct PgFailure {
    std::string sqlstate;
    std::string message;  // primary message, one line
    std::string constraint;
    std::string table;
    std::string column;
};

class PgResult {
public:
    PgResult();
    ~PgResult();
    PgResult(PgResult&&) noexcept;
    PgResult& operator=(PgResult&&) noexcept;

    [[nodiscard]] bool ok() const { return !failure_; }
    [[nodiscard]] const std::optional<PgFailure>& failure() const { return failure_; }
    [[nodiscard]] int rows() const;
    [[nodiscard]] bool is_null(int row, int column) const;
    [[nodiscard]] std::string_view text(int row, int column) const;
    [[nodiscard]] std::string string(int row, int column) const { return std::string(text(row, column)); }
    // PQcmdTuples: rows an INSERT/UPDATE/DELETE changed.
    [[nodiscard]] std::uint64_t affected() const;

private:
    friend class PgConnection;
    struct Deleter {
        void operator()(void* result) const;
    };
    std::unique_ptr<void, Deleter> result_;
    std::optional<PgFailure> failure_;
};

class PgConnection {
public:
    ~PgConnection();
    PgConnection(const PgConnection&) = delete;
    PgConnection& operator=(const PgConnection&) = delete;

    // Connects (blocking; libpq's connect_timeout applies). Throws ConfigError
    // for parameters libpq cannot parse, StoreMissing for a database that does
    // not exist, StoreUnavailable for everything else (server down, refused,
    // authentication failed): one line, no password.
    [[nodiscard]] static std::unique_ptr<PgConnection> connect(const PgParams& params);

    // Runs one statement. exec() throws on failure (see fail()); try_exec()
    // hands the failure back for the caller to classify.
    PgResult exec(std::string_view sql, const std::vector<PgParam>& params, std::string_view what);
    [[nodiscard]] PgResult try_exec(std::string_view sql, const std::vector<PgParam>& params);
    // exec() in two halves, so that the caller works while the server runs
    // the statement: send() returns once it is sent (a failure to send is
    // reported by receive()), receive() waits for its result and throws as
    // exec() does. Nothing else may run on the connection in between.
    void send(std::string_view sql, const std::vector<PgParam>& params);
    PgResult receive(std::string_view what);
    // Statements without parameters (may be several; SET ..., BEGIN).
    void run(std::string_view sql, std::string_view what);
    [[nodiscard]] PgResult try_run(std::string_view sql);

    // Turns a failure into StoreUnavailable (connection lost, timeouts, lock
    // waits, shutdown, too many connections, serialization), StoreMissing
    // (undefined table / database) or StoreError, naming `what` and target().
    [[noreturn]] void fail(const PgFailure& failure, std::string_view what) const;

    // "postgresql://USER@HOST:PORT/DB": where we are connected, never a password.
    [[nodiscard]] const std::string& target() const { return target_; }
    [[nodiscard]] bool in_transaction() const;
    [[nodiscard]] std::string quote_literal(std::string_view text) const;
    // The server's version as PQserverVersion gives it (150018 for 15.18).
    [[nodiscard]] int server_version() const;

private:
    struct Deleter {
        void operator()(void* conn) const;
    };
    explicit PgConnection(void* conn);
    [[nodiscard]] PgResult finish(void* raw) const;

    std::unique_ptr<void, Deleter> conn_;
    std::string target_;
    bool sent_ = false;  // send() handed its statement to libpq
};

// PostgreSQL's array literal of texts: {"a","b\"c"}.
[[nodiscard]] std::string pg_text_array(const std::vector<std::string_view>& items);

}  // namespace sessionctl
