// sessionctl clearsessions: manage.py clearsessions, for cron. Silent on
// success unless asked (-v, --dry-run, --json).

#include <optional>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "backends/file_engine.hpp"
#include "cli/commands.hpp"
#include "cli/file_lock.hpp"
#include "cli/pyvalue_json.hpp"

namespace sessionctl::cli {

CLI::App* setup_clearsessions(CLI::App& parent, ClearSessionsArgs& args) {
    CLI::App* cmd = parent.add_subcommand("clearsessions", "Remove expired sessions, like manage.py clearsessions");
    cmd->add_flag("--dry-run", args.dry_run, "Count what would be removed; remove nothing");
    cmd->add_option("--lock", args.lock_file,
                    "Hold an exclusive lock on FILE (created 0600) while running; exit 3 if another run holds it")
        ->type_name("FILE");
    cmd->footer(R"(EXAMPLES
  sessionctl clearsessions
  sessionctl clearsessions --dry-run
  sessionctl -v clearsessions --lock /run/lock/sessionctl.lock
  # crontab: 17 3 * * *  sessionctl --config /etc/sessionctl/config.json clearsessions --lock /tmp/sessionctl.lock)");
    return cmd;
}

ExitCode run_clearsessions(const ClearSessionsArgs& args, Context& ctx) {
    std::optional<FileLock> lock;
    if (args.lock_file) lock.emplace(*args.lock_file);

    // No SIGINT handler here: the store deletes in short batches, each its own
    // transaction, and cannot stop between them, so Ctrl-C keeps its default
    // (the process ends, committed batches stay removed, exit status 130 from
    // the shell) rather than being deferred to the end of the sweep.
    // Expiry is all it reads: no secret needed, except by the file engine,
    // whose only expiry besides the mtime is _session_expiry inside the signed
    // data (unverified, every session would read as {} and expire by mtime).
    SecretUse secret = ctx.config().session_engine() == kFileEngine ? SecretUse::required : SecretUse::none;
    auto store = ctx.open_store(args.dry_run ? Access::read_only : Access::read_write, secret);
    bool want_keys = ctx.verbose() > 0;
    BulkResult result = store->clear_expired(args.dry_run ? DryRun::yes : DryRun::no, want_keys);
    ctx.report_store_warnings(*store);

    if (ctx.json()) {
        ordered_json j = ordered_json::object();
        j["matched"] = result.matched;
        j["deleted"] = result.removed;
        if (want_keys) j["keys"] = result.keys;
        if (args.dry_run) j["dry_run"] = true;
        ctx.out() << dump_json(j) << '\n';
    } else if (!ctx.quiet() && (args.dry_run || ctx.verbose() > 0)) {
        if (args.dry_run) ctx.out() << "would remove " << count_of(result.matched, "expired session") << '\n';
        else ctx.out() << "removed " << count_of(result.removed, "expired session") << '\n';
        for (const auto& key : result.keys) ctx.out() << printable(key) << '\n';
    }
    ctx.out().flush();
    return ExitCode::ok;
}

}  // namespace sessionctl::cli
