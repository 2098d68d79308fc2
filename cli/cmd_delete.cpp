// sessionctl delete: by key (unconditional, an already-gone key is fine) or
// by --user/--where (scan, decode, match verified sessions, then a
// conditional delete that keeps any session rewritten meanwhile).

#include <functional>
#include <optional>
#include <string_view>
#include <unordered_set>

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include "cli/commands.hpp"
#include "cli/interrupt.hpp"
#include "cli/matchers.hpp"
#include "cli/parallel_scan.hpp"
#include "cli/prefilter.hpp"
#include "cli/progress.hpp"
#include "cli/pyvalue_json.hpp"
#include "cli/session_view.hpp"

namespace sessionctl::cli {

CLI::App* setup_delete(CLI::App& parent, DeleteArgs& args) {
    CLI::App* cmd = parent.add_subcommand("delete", "Delete sessions by key, by user, or by a value in their data");
    auto* keys = cmd->add_option("keys", args.keys.keys, "Session keys to delete")->type_name("KEY");
    auto* from_stdin =
        cmd->add_flag("--stdin", args.keys.from_stdin, "Read session keys from standard input, one per line")
            ->excludes(keys);
    cmd->add_flag("-0,--null", args.keys.null_separated, "With --stdin: keys are NUL-separated")->needs(from_stdin);
    cmd->add_option("--user", args.user, "Delete the verified sessions of this user id (_auth_user_id)")
        ->type_name("ID")
        ->excludes(keys)
        ->excludes(from_stdin);
    cmd->add_option("--where", args.where,
                    "Delete verified sessions whose value at dotted PATH equals VALUE (JSON, else a string); "
                    "repeatable")
        ->type_name("PATH=VALUE")
        ->allow_extra_args(false)
        ->excludes(keys)
        ->excludes(from_stdin);
    cmd->add_flag("--dead", args.dead,
                  "Delete the logins Django would no longer accept (user gone or inactive, password changed, "
                  "backend removed; anonymous sessions never); reads the user table")
        ->excludes(keys)
        ->excludes(from_stdin);
    cmd->add_flag("--dry-run", args.dry_run, "Show what would be deleted; delete nothing");
    cmd->footer(R"(EXAMPLES
  sessionctl delete 4x8zyq0wd2m1j5vhn3b7k6c9p0r2s1tq
  sessionctl delete --user 42                      # log user 42 out everywhere
  sessionctl delete --where cart.coupon=SPRING --dry-run
  sessionctl delete --dead                         # logins of deleted/deactivated users, old passwords
  sessionctl inspect --all --expired --keys-only | sessionctl delete --stdin -v)");
    return cmd;
}

namespace {

struct Outcome {
    std::uint64_t matched = 0;
    std::uint64_t deleted = 0;
    std::vector<std::string> keys;  // deleted (or, with --dry-run, that would be)
    // cached_db: matching cached copies over rows that do not match, removed
    // so that Django serves the rows (the sessions themselves stay).
    std::vector<std::string> stale_copies;
};

void report(const Outcome& o, const DeleteArgs& args, Context& ctx) {
    bool list_keys = ctx.verbose() > 0 || args.dry_run;
    if (ctx.json()) {
        ordered_json j = ordered_json::object();
        j["matched"] = o.matched;
        j["deleted"] = o.deleted;
        if (list_keys) j["keys"] = o.keys;
        if (!o.stale_copies.empty()) {
            j["stale_copies_removed"] = o.stale_copies.size();
            if (list_keys) j["stale_copy_keys"] = o.stale_copies;
        }
        if (args.dry_run) j["dry_run"] = true;
        ctx.out() << dump_json(j) << '\n';
    } else if (!ctx.quiet()) {
        if (args.dry_run) ctx.out() << "would delete " << count_of(o.matched, "session") << '\n';
        else ctx.out() << "deleted " << count_of(o.deleted, "session") << '\n';
        if (list_keys)
            for (const auto& key : o.keys) ctx.out() << printable(key) << '\n';
        if (!o.stale_copies.empty()) {
            ctx.out() << (args.dry_run ? "would remove " : "removed ") << o.stale_copies.size()
                      << (o.stale_copies.size() == 1 ? " stale cached copy" : " stale cached copies") << '\n';
            if (list_keys)
                for (const auto& key : o.stale_copies) ctx.out() << printable(key) << '\n';
        }
    }
    ctx.out().flush();
}

ExitCode delete_keys(const DeleteArgs& args, Context& ctx) {
    std::vector<std::string> keys = collect_keys(args.keys, ctx.io().in, ctx.key_rule());
    // Deleting by key needs no secret: nothing is decoded.
    auto store = ctx.open_store(args.dry_run ? Access::read_only : Access::read_write, SecretUse::none);
    auto session = store->open(std::nullopt);
    InterruptGuard interrupt_guard;  // Ctrl-C stops between keys; what was deleted is reported
    Outcome o;
    const bool has_shadow = store->shadow_records() != nullptr;
    for (const auto& key : keys) {
        if (interrupted()) break;
        // A shadow record (cached_db: a cached copy whose row is gone) is
        // still a session to Django, so it counts as one.
        if (!store->locate(key)) {
            // Django's delete() is unconditional: on cached_db it also drops a
            // cache copy written back since it was looked for (a request that
            // read the row before it was deleted), which Django would serve.
            if (!args.dry_run && has_shadow) session->delete_session(key);
            ctx.note(fmt::format("{}: no such session (already gone)", key));
            continue;
        }
        ++o.matched;
        if (!args.dry_run) {
            session->delete_session(key);
            ++o.deleted;
        }
        o.keys.push_back(key);
    }
    report(o, args, ctx);
    if (interrupted()) {
        ctx.error(fmt::format("interrupted; deleted {} of {} keys given", o.deleted, keys.size()));
        return ExitCode::interrupted;
    }
    return ExitCode::ok;
}

// The scan half of delete --user/--where: every record of `store` the filter
// matches, in scan order. Ctrl-C stops it (interrupted() says so).
struct ScanOutcome {
    std::vector<StoredSession> matches;
    std::uint64_t unmatchable = 0;
};

ScanOutcome scan_matching(Store& store, const SessionFilter& filter, const DateTime& now, Context& ctx,
                          Progress& progress, std::uint64_t& scanned,
                          const std::function<bool(const StoredSession&)>& counts = {}) {
    ScanOutcome out;
    // Most records are ruled out on their inflated JSON text, without the
    // parse; every candidate is decoded and verified in full.
    const std::optional<Prefilter> prefilter = prefilter_for(filter, store, ctx.config());
    using Verdict = FilterVerdict;
    auto examine = [&](const StoredSession& record) {  // on worker threads
        if (prefilter && prefilter->rejects(record.data)) return Verdict::skip;
        return filter_verdict(filter, view_session(record, store, now));
    };
    auto take = [&](const StoredSession& record, Verdict verdict) {  // in scan order
        if (verdict == Verdict::unmatchable && (!counts || counts(record))) ++out.unmatchable;
        else if (verdict == Verdict::match) out.matches.push_back(record);
        return true;
    };
    auto before = [&] {
        if (interrupted()) return false;
        progress.update(++scanned);
        return true;
    };
    // Matching needs no expiry: the cache engine then skips its TTL lookups.
    ParallelScan<Verdict>::run(store, examine, take, before, scan_worker_count(), ScanScope::key_and_data);
    return out;
}

ExitCode delete_matching(const DeleteArgs& args, Context& ctx) {
    SessionFilter filter = make_filter(args.user, args.where);
    auto store = ctx.open_store(args.dry_run ? Access::read_only : Access::read_write);
    std::optional<LoginChecker> dead;
    if (args.dead) filter.dead = &dead.emplace(ctx.user_table(), ctx.config());
    const DateTime now = store->environment().now();

    // Collect first, delete after the scan: never write while reading pages.
    // Ctrl-C during the scan stops it and deletes nothing.
    InterruptGuard interrupt_guard;
    Progress progress(ctx, "delete: scanned");  // a terminal stderr only
    std::uint64_t scanned = 0;
    ScanOutcome rows = scan_matching(*store, filter, now, ctx, progress, scanned);
    // Shadow records (cached_db: Django's load() reads the cache first, so
    // a cached copy whose row is gone is a live session the table scan
    // cannot see). Those that match are deleted too (if unchanged since
    // read). A matching copy over a row that does not match is what Django
    // serves too: left by a failed cache write after the row changed, or by
    // a save in flight (row written, cache not yet). Only such a copy goes,
    // if unchanged: Django then serves the row (or the save's own copy); the
    // session itself stays, since deleting it would lose a live one in
    // flight (the race test catches that).
    Store* shadow = store->shadow_records();
    std::vector<StoredSession> copies, stale_copies;
    if (shadow && !interrupted()) {
        std::unordered_set<std::string> row_keys;
        for (const auto& m : rows.matches) row_keys.insert(m.key);
        // A copy that cannot be decoded counts once, and only when no row stands for it.
        ScanOutcome cached = scan_matching(*shadow, filter, now, ctx, progress, scanned,
                                           [&](const StoredSession& c) { return !store->has_main_record(c.key); });
        for (auto& copy : cached.matches) {
            if (row_keys.contains(copy.key)) continue;  // the row's delete takes its copy
            (store->has_main_record(copy.key) ? stale_copies : copies).push_back(std::move(copy));
        }
        rows.unmatchable += cached.unmatchable;
    }
    progress.finish();
    if (rows.unmatchable)
        ctx.note(fmt::format("{} could not be decoded and verified, so no filter matched them",
                             count_of(rows.unmatchable, "session")));
    Outcome o;
    if (interrupted()) {
        report(o, args, ctx);
        ctx.error("interrupted while scanning; nothing was deleted");
        return ExitCode::interrupted;
    }
    const std::vector<StoredSession>& matches = rows.matches;
    o.matched = matches.size() + copies.size();
    const Store::ShadowTerms terms = store->shadow_terms();
    if (!copies.empty())
        ctx.note(fmt::format("{} of the matched sessions {} {} ({})", copies.size(), copies.size() == 1 ? "is" : "are",
                             terms.place, terms.reason));
    if (!stale_copies.empty()) {
        const bool one = stale_copies.size() == 1;
        ctx.warn(
            fmt::format("{} only through the {} that Django serves over a {} that does not match (a failed "
                        "cache write, or a save in flight): {} removed{}, so that Django serves the {}, which "
                        "{} kept",
                        fmt::format("{} {}", stale_copies.size(), one ? "session matches" : "sessions match"),
                        one ? terms.record : terms.records, terms.main_record, one ? "the copy" : "the copies",
                        args.dry_run ? " would be" : (one ? " is" : " are"), one ? "row" : "rows", one ? "is" : "are"));
    }
    if (args.dry_run) {
        for (const auto& m : matches) o.keys.push_back(m.key);
        for (const auto& c : copies) o.keys.push_back(c.key);
        for (const auto& c : stale_copies) o.stale_copies.push_back(c.key);
    } else if (o.matched > 0 || !stale_copies.empty()) {
        ctx.race_point("delete: before remove");
        if (!matches.empty()) {
            BulkResult result = store->remove(matches, /*want_keys=*/true);
            o.deleted = result.removed;
            o.keys = std::move(result.keys);
        }
        if (!copies.empty()) {
            BulkResult result = shadow->remove(copies, /*want_keys=*/true);
            o.deleted += result.removed;
            o.keys.insert(o.keys.end(), result.keys.begin(), result.keys.end());
        }
        // One rewritten meanwhile is a save's new copy: kept, and no failure.
        if (!stale_copies.empty()) o.stale_copies = shadow->remove(stale_copies, /*want_keys=*/true).keys;
    }
    ctx.report_store_messages(*store);
    report(o, args, ctx);
    if (interrupted()) {  // arrived during the delete, which ran to its end
        ctx.error(fmt::format("interrupted; deleted {} of {} matched", o.deleted, o.matched));
        return ExitCode::interrupted;
    }
    if (o.matched == 0 && stale_copies.empty()) {
        ctx.error("no session matched");
        return ExitCode::not_found;
    }
    if (!args.dry_run && o.deleted < o.matched) {
        ctx.error(
            fmt::format("{} of {} matched sessions changed after they were read (a live request rewrote or "
                        "removed them) and were kept; run again to retry",
                        o.matched - o.deleted, o.matched));
        return ExitCode::partial;
    }
    return ExitCode::ok;
}

}  // namespace

ExitCode run_delete(const DeleteArgs& args, Context& ctx) {
    bool by_key = args.keys.from_stdin || !args.keys.keys.empty();
    bool by_filter = args.user || !args.where.empty() || args.dead;
    if (by_key && by_filter) throw UsageError("delete by key or by --user/--where/--dead, not both");
    if (!by_key && !by_filter) throw UsageError("name session keys, or use --stdin, --user, --where or --dead");
    return by_key ? delete_keys(args, ctx) : delete_matching(args, ctx);
}

}  // namespace sessionctl::cli
