#include "backends/postgres/pg_connection.hpp"

#include "backends/postgres/libpq_api.hpp"

#include <cstdlib>

#include <fmt/format.h>

#include "core/config.hpp"
#include "core/errors.hpp"

namespace sessionctl {
namespace {

PGconn* as_conn(void* p) { return static_cast<PGconn*>(p); }
const PGresult* as_result(void* p) { return static_cast<const PGresult*>(p); }

// libpq messages span lines ("connection to server ... failed: ...\n\tIs the
// server running ...?"): one line for stderr.
std::string one_line(std::string_view text) {
    std::string out;
    bool pending_break = false;
    for (char c : text) {
        if (c == '\n' || c == '\r') {
            pending_break = !out.empty();
            continue;
        }
        if (c == '\t') c = ' ';
        if (pending_break) {
            out += "; ";
            pending_break = false;
        }
        if (c == ' ' && (out.empty() || out.back() == ' ')) continue;
        out += c;
    }
    while (!out.empty() && (out.back() == ' ' || out.back() == ';')) out.pop_back();
    return out;
}

// Text between double quotes replaced: what libpq quotes back from a
// connection string it could not parse might be part of a password.
std::string without_quoted(std::string_view text) {
    std::string out;
    bool quoted = false;
    for (char c : text) {
        if (c == '"') {
            out += quoted ? "\"" : "\"...";
            quoted = !quoted;
            continue;
        }
        if (!quoted) out += c;
    }
    return out;
}

std::string field(const PGresult* result, int code) {
    const char* value = pq().PQresultErrorField(result, code);
    return value ? std::string(value) : std::string();
}

bool is_known_keyword(const std::string& keyword) {
    static const std::vector<std::string> known = [] {
        std::vector<std::string> names;
        PQconninfoOption* defaults = pq().PQconndefaults();
        if (defaults) {
            for (PQconninfoOption* o = defaults; o->keyword; ++o) names.emplace_back(o->keyword);
            pq().PQconninfoFree(defaults);
        }
        return names;
    }();
    for (const auto& k : known)
        if (k == keyword) return true;
    return false;
}

void ignore_notice(void*, const char*) {}

}  // namespace

void PgResult::Deleter::operator()(void* result) const { pq().PQclear(static_cast<PGresult*>(result)); }
PgResult::PgResult() = default;
PgResult::~PgResult() = default;
PgResult::PgResult(PgResult&&) noexcept = default;
PgResult& PgResult::operator=(PgResult&&) noexcept = default;

int PgResult::rows() const { return result_ ? pq().PQntuples(as_result(result_.get())) : 0; }
bool PgResult::is_null(int row, int column) const {
    return pq().PQgetisnull(as_result(result_.get()), row, column) != 0;
}
std::string_view PgResult::text(int row, int column) const {
    const PGresult* r = as_result(result_.get());
    return {pq().PQgetvalue(r, row, column), static_cast<std::size_t>(pq().PQgetlength(r, row, column))};
}
std::uint64_t PgResult::affected() const {
    const char* n = result_ ? pq().PQcmdTuples(const_cast<PGresult*>(as_result(result_.get()))) : nullptr;
    return n && *n ? std::strtoull(n, nullptr, 10) : 0;
}

void PgConnection::Deleter::operator()(void* conn) const { pq().PQfinish(static_cast<PGconn*>(conn)); }

PgConnection::PgConnection(void* conn) : conn_(conn) {
    PGconn* c = as_conn(conn);
    const LibpqApi& api = pq();
    const char* host = api.PQhost(c);
    target_ =
        fmt::format("postgresql://{}@{}:{}/{}", api.PQuser(c) ? api.PQuser(c) : "", host && *host ? host : "localhost",
                    api.PQport(c) ? api.PQport(c) : "", api.PQdb(c) ? api.PQdb(c) : "");
}
PgConnection::~PgConnection() = default;

std::unique_ptr<PgConnection> PgConnection::connect(const PgParams& params) {
    std::vector<const char*> keywords;
    std::vector<const char*> values;
    bool first_dbname = true;
    for (const auto& [key, value] : params) {
        if (!is_known_keyword(key))
            throw ConfigError(fmt::format("'{}' is not a PostgreSQL connection option (libpq does not know it)", key));
        // A URI or conninfo string in dbname is expanded by libpq; check it
        // here so a typo is a configuration error, not an outage.
        if (key == "dbname" && first_dbname) {
            first_dbname = false;
            char* error = nullptr;
            if (value.find('=') != std::string::npos || value.rfind("postgres", 0) == 0) {
                PQconninfoOption* parsed = pq().PQconninfoParse(value.c_str(), &error);
                if (!parsed) {
                    std::string message = error ? one_line(without_quoted(error)) : "out of memory";
                    pq().PQfreemem(error);
                    throw ConfigError(
                        fmt::format("the PostgreSQL connection URI / conninfo string is invalid: {}", message));
                }
                pq().PQconninfoFree(parsed);
            }
        }
        keywords.push_back(key.c_str());
        values.push_back(value.c_str());
    }
    keywords.push_back(nullptr);
    values.push_back(nullptr);

    PGconn* raw = pq().PQconnectdbParams(keywords.data(), values.data(), /*expand_dbname=*/1);
    if (!raw) throw StoreUnavailable("cannot connect to PostgreSQL: out of memory");
    std::unique_ptr<PgConnection> conn(new PgConnection(raw));
    pq().PQsetNoticeProcessor(raw, ignore_notice, nullptr);
    if (pq().PQstatus(raw) != CONNECTION_OK) {
        const std::string message = one_line(pq().PQerrorMessage(raw));
        // The server's FATAL for a missing database is the only startup
        // failure that is a configuration problem rather than an outage.
        if (message.find("database \"") != std::string::npos && message.find("does not exist") != std::string::npos)
            throw StoreMissing(fmt::format("cannot connect to {}: {}", conn->target(), message));
        throw StoreUnavailable(fmt::format("cannot connect to {}: {}", conn->target(), message));
    }
    return conn;
}

PgResult PgConnection::finish(void* raw) const {
    PgResult result;
    result.result_.reset(raw);
    const PGresult* r = as_result(raw);
    ExecStatusType status = r ? pq().PQresultStatus(r) : PGRES_FATAL_ERROR;
    if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) return result;
    PgFailure failure;
    if (r) {
        failure.sqlstate = field(r, PG_DIAG_SQLSTATE);
        failure.message = one_line(field(r, PG_DIAG_MESSAGE_PRIMARY));
        failure.constraint = field(r, PG_DIAG_CONSTRAINT_NAME);
        failure.table = field(r, PG_DIAG_TABLE_NAME);
        failure.column = field(r, PG_DIAG_COLUMN_NAME);
    }
    if (failure.message.empty()) failure.message = one_line(pq().PQerrorMessage(as_conn(conn_.get())));
    if (pq().PQstatus(as_conn(conn_.get())) != CONNECTION_OK) failure.sqlstate.clear();  // the connection is gone
    result.failure_ = std::move(failure);
    return result;
}

namespace {

// PgParams as libpq takes them (the values point into `params`).
struct LibpqParams {
    std::vector<Oid> types;
    std::vector<const char*> values;
    explicit LibpqParams(const std::vector<PgParam>& params) {
        types.reserve(params.size());
        values.reserve(params.size());
        for (const auto& p : params) {
            types.push_back(static_cast<Oid>(p.type));
            values.push_back(p.value ? p.value->c_str() : nullptr);
        }
    }
};

}  // namespace

PgResult PgConnection::try_exec(std::string_view sql, const std::vector<PgParam>& params) {
    const LibpqParams p(params);
    const std::string text(sql);
    return finish(pq().PQexecParams(as_conn(conn_.get()), text.c_str(), static_cast<int>(params.size()), p.types.data(),
                                    p.values.data(), nullptr, nullptr, 0));
}

void PgConnection::send(std::string_view sql, const std::vector<PgParam>& params) {
    const LibpqParams p(params);
    const std::string text(sql);
    sent_ = pq().PQsendQueryParams(as_conn(conn_.get()), text.c_str(), static_cast<int>(params.size()), p.types.data(),
                                   p.values.data(), nullptr, nullptr, 0) == 1;
}

PgResult PgConnection::receive(std::string_view what) {
    void* first = nullptr;
    if (sent_) {
        // One statement, one result, then none: the connection is free again.
        while (PGresult* r = pq().PQgetResult(as_conn(conn_.get()))) {
            if (first) pq().PQclear(r);
            else first = r;
        }
    }
    sent_ = false;
    PgResult result = finish(first);  // nothing received: PQerrorMessage says why
    if (!result.ok()) fail(*result.failure(), what);
    return result;
}

PgResult PgConnection::exec(std::string_view sql, const std::vector<PgParam>& params, std::string_view what) {
    PgResult result = try_exec(sql, params);
    if (!result.ok()) fail(*result.failure(), what);
    return result;
}

PgResult PgConnection::try_run(std::string_view sql) {
    const std::string text(sql);
    return finish(pq().PQexec(as_conn(conn_.get()), text.c_str()));
}

void PgConnection::run(std::string_view sql, std::string_view what) {
    PgResult result = try_run(sql);
    if (!result.ok()) fail(*result.failure(), what);
}

void PgConnection::fail(const PgFailure& failure, std::string_view what) const {
    const std::string& state = failure.sqlstate;
    const std::string message = fmt::format("cannot {} ({}): {}", what, target_, failure.message);
    auto cls = [&](std::string_view prefix) { return state.rfind(prefix, 0) == 0; };
    if (state.empty() || cls("08") || cls("53") || cls("57P") || cls("40") || cls("28") || state == "55P03" ||
        state == "55006" || state == "57014")
        throw StoreUnavailable(message);
    if (state == "42P01" || state == "3D000" || state == "3F000") throw StoreMissing(message);
    throw StoreError(message);
}

bool PgConnection::in_transaction() const { return pq().PQtransactionStatus(as_conn(conn_.get())) != PQTRANS_IDLE; }

std::string PgConnection::quote_literal(std::string_view text) const {
    char* quoted = pq().PQescapeLiteral(as_conn(conn_.get()), text.data(), text.size());
    if (!quoted) throw StoreError(fmt::format("cannot quote a value for {}", target_));
    std::string out(quoted);
    pq().PQfreemem(quoted);
    return out;
}

int PgConnection::server_version() const { return pq().PQserverVersion(as_conn(conn_.get())); }

std::string pg_text_array(const std::vector<std::string_view>& items) {
    std::string out = "{";
    for (std::size_t i = 0; i < items.size(); ++i) {
        if (i) out += ',';
        out += '"';
        for (char c : items[i]) {
            if (c == '"' || c == '\\') out += '\\';
            out += c;
        }
        out += '"';
    }
    out += '}';
    return out;
}

}  // namespace sessionctl
