// sessionctl clearsessions: manage.py clearsessions, for cron. Silent on
// success unless asked (-v, --dry-run, --json).

#include <chrono>
#include <cmath>
#include <optional>

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include "backends/registry.hpp"
#include "cli/commands.hpp"
#include "cli/file_lock.hpp"
#include "cli/interrupt.hpp"
#include "cli/progress.hpp"
#include "cli/pyvalue_json.hpp"

namespace sessionctl::cli {

CLI::App* setup_clearsessions(CLI::App& parent, ClearSessionsArgs& args) {
    CLI::App* cmd = parent.add_subcommand("clearsessions", "Remove expired sessions, like manage.py clearsessions");
    cmd->add_flag("--dry-run", args.dry_run, "Count what would be removed; remove nothing");
    cmd->add_option("--lock", args.lock_file,
                    "Hold an exclusive lock on FILE (created 0600) while running; exit 3 if another run holds it")
        ->type_name("FILE");
    CLI::Option* batch_size =
        cmd->add_option("--batch-size", args.batch_size,
                        "Remove at most N sessions per transaction (default: sized so that each transaction takes "
                        "about 100 ms on SQLite, whose write lock blocks the site, 500 ms on PostgreSQL)")
            ->type_name("N");
    CLI::Option* sleep =
        cmd->add_option("--sleep", args.sleep_seconds,
                        "Pause SECONDS between batches, holding no lock, so the site's writers waiting for it get "
                        "their turn (default 0.03 on SQLite; 0 on PostgreSQL, whose row locks never make them wait)")
            ->type_name("SECONDS");
    CLI::Option* max_runtime =
        cmd->add_option("--max-runtime", args.max_runtime_seconds,
                        "Start no new batch after SECONDS; what is left stays for the next run (exit 0)")
            ->type_name("SECONDS");
    cmd->add_flag("--one-transaction", args.one_transaction,
                  "Remove them all in one transaction, as manage.py clearsessions does: about as fast as a "
                  "single DELETE, but on SQLite the site cannot write sessions until it ends (its writes may "
                  "fail with 'database is locked'); for a maintenance window")
        ->excludes(batch_size)
        ->excludes(sleep)
        ->excludes(max_runtime);
    cmd->add_flag("--include-temp", args.include_temp,
                  "File engine: also remove _out_ temporary files older than a day (left by interrupted saves)");
    cmd->footer(R"(SQL stores delete in short transactions (one batch each), so a live site keeps writing
sessions meanwhile. On SQLite, sessionctl's own connection uses a page cache of up to
256 MiB during the run (PRAGMA cache_size; memory is taken only as pages are read) and
keeps its journal file between batches (journal_mode=persist, restored at the end).
Short transactions cost time: each one rewrites index pages that a single DELETE writes
once (on SQLite about 8x a single DELETE at 1M rows); --one-transaction is the fast way
when the site can wait. Ctrl-C rolls back the batch in flight on SQLite (elsewhere lets
it commit), prints what was removed and exits 130; running again finishes the job. A
progress line (rate, ETA) shows on a terminal only.

EXAMPLES
  sessionctl clearsessions
  sessionctl clearsessions --dry-run
  sessionctl -v clearsessions --lock /run/lock/sessionctl.lock
  sessionctl clearsessions --sleep 0.05 --max-runtime 600   # gentle, at most ~10 minutes
  sessionctl clearsessions --one-transaction                 # maintenance window
  # crontab: 17 3 * * *  sessionctl --config /etc/sessionctl/config.json clearsessions --lock /tmp/sessionctl.lock)");
    return cmd;
}

namespace {

std::chrono::milliseconds seconds_option(const std::optional<double>& value, std::string_view flag, bool zero_ok) {
    if (!value) return std::chrono::milliseconds{0};
    const double v = *value;
    if (!std::isfinite(v) || v < 0 || (!zero_ok && v == 0) || v > 365.0 * 24 * 3600)
        throw UsageError(fmt::format("{} must be a number of seconds{}", flag, zero_ok ? "" : " above 0"));
    return std::chrono::milliseconds{static_cast<std::int64_t>(std::llround(v * 1000))};
}

BulkOptions bulk_options(const ClearSessionsArgs& args) {
    BulkOptions options;
    if (args.one_transaction) {
        options.batch_size = BulkOptions::kOneTransaction;
        options.sleep = std::chrono::milliseconds{0};
    }
    if (args.batch_size) {
        if (*args.batch_size == 0) throw UsageError("--batch-size must be at least 1");
        options.batch_size = *args.batch_size;
    }
    if (args.sleep_seconds) options.sleep = seconds_option(args.sleep_seconds, "--sleep", true);
    options.max_runtime = seconds_option(args.max_runtime_seconds, "--max-runtime", false);
    if (args.max_runtime_seconds && options.max_runtime.count() == 0)
        options.max_runtime = std::chrono::milliseconds{1};
    return options;
}

}  // namespace

ExitCode run_clearsessions(const ClearSessionsArgs& args, Context& ctx) {
    BulkOptions options = bulk_options(args);  // usage errors before any I/O
    std::optional<FileLock> lock;
    if (args.lock_file) lock.emplace(*args.lock_file);

    // Expiry is all it reads: no secret needed, except by the file engine,
    // whose only expiry besides the mtime is _session_expiry inside the signed
    // data (unverified, every session would read as {} and expire by mtime).
    const EngineEntry* engine = find_engine(ctx.config().session_engine());
    SecretUse secret = engine && engine->expiry_needs_secret ? SecretUse::required : SecretUse::none;
    auto store = ctx.open_store(args.dry_run ? Access::read_only : Access::read_write, secret);
    if (args.include_temp && !store->has_leftovers())
        throw UsageError("--include-temp is for the file engine (SESSION_ENGINE ...backends.file)");
    bool want_keys = ctx.verbose() > 0;

    // Ctrl-C is polled between batches: the one in flight commits (or rolls
    // back) whole, what was removed is reported, and a rerun goes on.
    InterruptGuard interrupt_guard;
    options.should_stop = [] { return interrupted(); };
    Progress progress(ctx, "clearsessions: removed");
    if (progress.enabled() && !args.dry_run)
        options.progress = [&](std::uint64_t done, std::uint64_t total) { progress.update(done, total); };
    BulkResult result = store->clear_expired(args.dry_run ? DryRun::yes : DryRun::no, want_keys, options);
    progress.finish();
    ctx.report_store_messages(*store);
    std::optional<BulkResult> temp;
    if (args.include_temp) {
        if (result.end == BulkEnd::complete)
            temp = store->remove_stale_leftovers(args.dry_run ? DryRun::yes : DryRun::no, want_keys);
        ctx.report_store_messages(*store);
    }

    const bool complete = result.end == BulkEnd::complete;
    if (ctx.json()) {
        ordered_json j = ordered_json::object();
        j["matched"] = result.matched;
        j["deleted"] = result.removed;
        if (want_keys) j["keys"] = result.keys;
        if (args.dry_run) j["dry_run"] = true;
        j["complete"] = complete;
        if (temp) {
            j["temp_matched"] = temp->matched;
            j["temp_deleted"] = temp->removed;
            if (want_keys) j["temp_files"] = temp->keys;
        }
        ctx.out() << dump_json(j) << '\n';
    } else if (!ctx.quiet() && (args.dry_run || ctx.verbose() > 0)) {
        if (args.dry_run) ctx.out() << "would remove " << count_of(result.matched, "expired session") << '\n';
        else ctx.out() << "removed " << count_of(result.removed, "expired session") << '\n';
        for (const auto& key : result.keys) ctx.out() << printable(key) << '\n';
        if (temp) {
            if (args.dry_run) ctx.out() << "would remove " << count_of(temp->matched, "stale temporary file") << '\n';
            else ctx.out() << "removed " << count_of(temp->removed, "stale temporary file") << '\n';
            for (const auto& name : temp->keys) ctx.out() << printable(name) << '\n';
        }
    }
    ctx.out().flush();
    if (result.end == BulkEnd::stopped) {
        ctx.error(
            fmt::format("interrupted: removed {} in {} (each committed whole{}); run clearsessions again "
                        "to finish",
                        count_of(result.removed, "expired session"), count_of(result.batches, "transaction"),
                        result.rolled_back ? "; the one in flight was rolled back" : ""));
        return ExitCode::interrupted;
    }
    if (result.end == BulkEnd::max_runtime)
        ctx.warn(
            fmt::format("stopped at --max-runtime: removed {} in {}; expired sessions remain, the next "
                        "run goes on",
                        count_of(result.removed, "expired session"), count_of(result.batches, "transaction")));
    return ExitCode::ok;
}

}  // namespace sessionctl::cli
