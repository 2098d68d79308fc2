#pragma once

// The subcommands. Each lives in cmd_<name>.cpp with an argument struct, a
// setup_<name>() that declares its CLI11 options (and nothing else), and a
// run_<name>() that does the work with no CLI11 in it, so tests call it
// directly with a Context.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "cli/context.hpp"
#include "cli/exit_codes.hpp"
#include "cli/key_input.hpp"

namespace CLI {
class App;
}

namespace sessionctl::cli {

// inspect KEY... | --stdin [-0] | --all  [--user ID] [--where PATH=VALUE]
//         [--dead] [--expired|--live] [--keys-only] [--limit N]
struct InspectArgs {
    KeyArgs keys;
    bool all = false;
    std::optional<std::string> user;
    std::vector<std::string> where;
    bool dead = false;
    bool expired_only = false;
    bool live_only = false;
    bool keys_only = false;
    std::optional<std::uint64_t> limit;
};
CLI::App* setup_inspect(CLI::App& parent, InspectArgs& args);
ExitCode run_inspect(const InspectArgs& args, Context& ctx);

// decode [BLOB | --stdin] [--signed-cookie | --salt S] [--no-verify] [--max-age SECONDS]
struct DecodeArgs {
    std::optional<std::string> blob;
    bool from_stdin = false;
    bool signed_cookie = false;
    std::optional<std::string> salt;
    bool no_verify = false;
    std::optional<std::int64_t> max_age;
};
CLI::App* setup_decode(CLI::App& parent, DecodeArgs& args);
ExitCode run_decode(const DecodeArgs& args, Context& ctx);

// create [--data JSON | --data-file F] [--user ID [--password-hash H] [--auth-backend B]]
//        [--expiry SECONDS|ISO8601|browser-close] [--storage-state F] [--cookie-jar F] [--url U]
struct CreateArgs {
    std::optional<std::string> data;
    std::optional<std::string> data_file;  // "-": standard input
    std::optional<std::string> user;
    std::optional<std::string> password_hash;  // "-": first line of standard input
    std::optional<std::string> auth_backend;
    std::optional<std::string> expiry;
    std::optional<std::string> storage_state;  // Playwright storage state file
    std::optional<std::string> cookie_jar;     // Netscape cookie file
    std::optional<std::string> url;            // the site, for the cookie's domain
};
CLI::App* setup_create(CLI::App& parent, CreateArgs& args);
ExitCode run_create(const CreateArgs& args, Context& ctx);

// delete KEY... | --stdin [-0] | --user ID | --where PATH=VALUE | --dead  [--dry-run]
struct DeleteArgs {
    KeyArgs keys;
    std::optional<std::string> user;
    std::vector<std::string> where;
    bool dead = false;
    bool dry_run = false;
};
CLI::App* setup_delete(CLI::App& parent, DeleteArgs& args);
ExitCode run_delete(const DeleteArgs& args, Context& ctx);

// expire KEY... | --stdin [-0]  (--in SECONDS | --at ISO8601 | --browser-close | --default | --now)
struct ExpireArgs {
    KeyArgs keys;
    std::optional<std::int64_t> in_seconds;
    std::optional<std::string> at;
    bool browser_close = false;
    bool to_default = false;
    bool now = false;
    bool dry_run = false;
};
CLI::App* setup_expire(CLI::App& parent, ExpireArgs& args);
ExitCode run_expire(const ExpireArgs& args, Context& ctx);

// clearsessions [--dry-run] [--lock FILE] [--batch-size N] [--sleep SECONDS] [--max-runtime SECONDS]
//               [--one-transaction]
struct ClearSessionsArgs {
    bool dry_run = false;
    std::optional<std::string> lock_file;
    std::optional<std::size_t> batch_size;      // rows per transaction; default: ~100 ms transactions
    bool one_transaction = false;               // everything in one transaction, as manage.py does
    std::optional<double> sleep_seconds;        // pause between batches
    std::optional<double> max_runtime_seconds;  // start no batch after this
    bool include_temp = false;                  // file engine: also stale _out_ temporary files
};
CLI::App* setup_clearsessions(CLI::App& parent, ClearSessionsArgs& args);
ExitCode run_clearsessions(const ClearSessionsArgs& args, Context& ctx);

// stats [--top N] [--prometheus] [--dead]
struct StatsArgs {
    std::size_t top = 10;
    bool prometheus = false;
    bool dead = false;
};
CLI::App* setup_stats(CLI::App& parent, StatsArgs& args);
ExitCode run_stats(const StatsArgs& args, Context& ctx);

// copy --to FILE [KEY... | --stdin [-0] | --user ID | --where PATH=VALUE] [--dry-run]
//      [--overwrite | --overwrite-older] [--move] [--max-runtime SECONDS]
struct CopyArgs {
    std::string to;
    KeyArgs keys;
    std::optional<std::string> user;
    std::vector<std::string> where;
    bool dry_run = false;
    bool overwrite = false;
    bool overwrite_older = false;
    bool move = false;
    std::optional<double> max_runtime_seconds;
};
CLI::App* setup_copy(CLI::App& parent, CopyArgs& args);
ExitCode run_copy(const CopyArgs& args, Context& ctx);
// rekey [--dry-run]
struct RekeyArgs {
    bool dry_run = false;
};
CLI::App* setup_rekey(CLI::App& parent, RekeyArgs& args);
ExitCode run_rekey(const RekeyArgs& args, Context& ctx);

// config
struct ConfigArgs {};
CLI::App* setup_config(CLI::App& parent, ConfigArgs& args);
ExitCode run_config(const ConfigArgs& args, Context& ctx);

}  // namespace sessionctl::cli
