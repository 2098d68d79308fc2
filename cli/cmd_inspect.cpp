// sessionctl inspect: stored sessions (expired ones too), decoded and
// verified, by key or by scanning the whole store.

#include <algorithm>
#include <functional>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include "cli/commands.hpp"
#include "cli/interrupt.hpp"
#include "cli/listed_rows.hpp"
#include "cli/matchers.hpp"
#include "cli/parallel_scan.hpp"
#include "cli/prefilter.hpp"
#include "cli/progress.hpp"
#include "cli/session_view.hpp"

namespace sessionctl::cli {

CLI::App* setup_inspect(CLI::App& parent, InspectArgs& args) {
    CLI::App* cmd = parent.add_subcommand("inspect", "Show stored sessions: data, expiry, user, verification");
    auto* keys = cmd->add_option("keys", args.keys.keys, "Session keys to show")->type_name("KEY");
    auto* from_stdin =
        cmd->add_flag("--stdin", args.keys.from_stdin, "Read session keys from standard input, one per line")
            ->excludes(keys);
    cmd->add_flag("-0,--null", args.keys.null_separated, "With --stdin: keys are NUL-separated")->needs(from_stdin);
    auto* all = cmd->add_flag("--all", args.all, "Scan every stored session")->excludes(keys)->excludes(from_stdin);
    cmd->add_option("--user", args.user, "Only verified sessions of this user id (_auth_user_id); implies --all")
        ->type_name("ID")
        ->excludes(keys)
        ->excludes(from_stdin);
    cmd->add_option("--where", args.where,
                    "Only verified sessions whose value at dotted PATH equals VALUE (JSON, else a string); "
                    "repeatable; implies --all")
        ->type_name("PATH=VALUE")
        ->allow_extra_args(false)
        ->excludes(keys)
        ->excludes(from_stdin);
    cmd->add_flag("--dead", args.dead,
                  "Only logins Django would no longer accept (user gone or inactive, password changed, backend "
                  "removed), each with the rule it broke; reads the user table; implies --all")
        ->excludes(keys)
        ->excludes(from_stdin);
    auto* expired = cmd->add_flag("--expired", args.expired_only, "Only expired sessions");
    cmd->add_flag("--live", args.live_only, "Only sessions that have not expired")->excludes(expired);
    cmd->add_flag("--keys-only", args.keys_only, "Print only the keys, one per line");
    cmd->add_option("--limit", args.limit, "Show at most N sessions")->type_name("N");
    (void)all;
    cmd->footer(R"(EXAMPLES
  sessionctl inspect 4x8zyq0wd2m1j5vhn3b7k6c9p0r2s1tq
  sessionctl inspect --all --live --limit 10
  sessionctl inspect --user 42 --keys-only | sessionctl delete --stdin
  sessionctl inspect --where cart.coupon=SPRING --json | jq .key
  sessionctl inspect --all --expired --keys-only | wc -l
  sessionctl inspect --dead --json | jq -r '[.key, .dead] | @tsv')");
    return cmd;
}

namespace {

struct Printer {
    const InspectArgs& args;
    Context& ctx;
    std::int64_t now_micros;
    std::uint64_t shown = 0;

    [[nodiscard]] bool wanted(const SessionView& v) const {
        if (args.expired_only && !v.expired) return false;
        if (args.live_only && v.expired) return false;
        return true;
    }
    [[nodiscard]] bool full() const { return args.limit && shown >= *args.limit; }
    // What show() prints; safe on a scan's worker threads.
    [[nodiscard]] std::string render(const SessionView& v) const {
        if (args.keys_only) return printable(v.key) + '\n';
        if (ctx.json()) return view_to_json_line(v) + '\n';
        std::ostringstream block;
        print_view(block, v, now_micros);
        return std::move(block).str();
    }
    void show(const SessionView& v) { print(render(v)); }
    void print(std::string_view text) {
        ++shown;
        ctx.out() << text;
    }
};

// With --dead: which rule the login broke, for the output.
void mark_dead(const SessionFilter& filter, SessionView& view) {
    if (!filter.dead || !view.dict()) return;
    if (auto verdict = filter.dead->check(*view.dict()); verdict && verdict->dead)
        view.dead_reason = to_string(*verdict->dead);
}

// A scanned record as a worker judged it.
struct ScanVerdict {
    bool unmatchable = false;  // a filter was given and the record is not a verified dict
    bool shown = false;
    std::string text;  // rendered, when shown
};

ExitCode inspect_keys(const std::vector<std::string>& keys, Store& store, Printer& printer, Context& ctx) {
    const DateTime now = store.environment().now();
    std::uint64_t missing = 0, undecodable = 0;
    for (const auto& key : keys) {
        if (interrupted() || printer.full()) break;
        // A shadow record (cached_db: a cached copy whose row is gone, which
        // Django's load() still serves) is shown as its holder keeps it.
        auto found = store.locate(key);
        if (!found) {
            ++missing;
            ctx.error(fmt::format("no session {}", key));
            continue;
        }
        if (found->in_shadow) {
            const Store::ShadowTerms terms = store.shadow_terms();
            ctx.warn(fmt::format("session {} is {}: {}", key, terms.place, terms.reason));
        }
        SessionView view = view_session(found->record, *found->holder, now);
        if (!view.verified_dict) {
            ++undecodable;
            ctx.error(fmt::format("session {}: {}", key, printable(view.error.value_or("unreadable"))));
        }
        if (printer.wanted(view)) printer.show(view);
    }
    ctx.out().flush();
    if (interrupted()) {
        ctx.error(fmt::format("interrupted after showing {}", count_of(printer.shown, "session")));
        return ExitCode::interrupted;
    }
    if (undecodable) return ExitCode::bad_data;
    if (missing) return ExitCode::not_found;
    return ExitCode::ok;
}

// Temporary files a dead Django process left behind hold no session anyone
// can load; they are only counted here (clearsessions --include-temp removes).
void report_stale_leftovers(Store& store, Context& ctx) {
    const std::optional<StaleLeftovers> leftovers = store.stale_leftovers();
    if (leftovers && leftovers->count)
        ctx.warn(
            fmt::format("{} ({} bytes) older than a day in {}: left by interrupted saves; "
                        "`clearsessions --include-temp` removes them",
                        count_of(leftovers->count, "stale _out_ temporary file"), leftovers->bytes, leftovers->where));
}

// After the main listing, the shadow records it does not hold (cached_db:
// the cached copies whose row is gone; Django's load() reads the cache
// first, so they are live sessions the table cannot show). Workers decode
// and match every shadow record; the calling thread asks the main store
// about the candidates only, and renders the few it does not hold.
// Returns how many were shown.
std::uint64_t inspect_shadow_only(Store& store, Store& copies, const SessionFilter& filter, const ListedRows& rows,
                                  Printer& printer, const std::function<bool()>& before, std::uint64_t& unmatchable) {
    const DateTime now = store.environment().now();
    struct CopyVerdict {
        bool unmatchable = false;
        std::optional<SessionView> view;  // a candidate to show, if it has no row
    };
    auto examine = [&](const StoredSession& record) {  // on worker threads
        CopyVerdict verdict;
        SessionView view = view_session(record, copies, now);
        const FilterVerdict matched = filter_verdict(filter, view);
        verdict.unmatchable = matched == FilterVerdict::unmatchable;
        if (matched == FilterVerdict::match && printer.wanted(view)) {
            mark_dead(filter, view);
            verdict.view = std::move(view);
        }
        return verdict;
    };
    std::uint64_t shown = 0;
    auto take = [&](const StoredSession& record, CopyVerdict& verdict) {  // in scan order
        if (!verdict.unmatchable && !verdict.view) return true;
        if (rows.listed(record.key) || store.has_main_record(record.key)) return true;  // the main one stands for it
        if (verdict.unmatchable) {
            ++unmatchable;
            return true;
        }
        printer.print(printer.render(*verdict.view));
        ++shown;
        return !printer.full();
    };
    // The TTL is only worth a command per key when an expiry is printed.
    ParallelScan<CopyVerdict>::run(copies, examine, take, before, scan_worker_count(),
                                   printer.args.keys_only ? ScanScope::key_and_data : ScanScope::everything);
    return shown;
}

ExitCode inspect_all(const SessionFilter& filter, Store& store, Printer& printer, Context& ctx) {
    const DateTime now = store.environment().now();
    std::uint64_t scanned = 0, unmatchable = 0;
    // Most records are ruled out on their inflated JSON text, without the
    // parse; every candidate is decoded and verified in full.
    const std::optional<Prefilter> prefilter = prefilter_for(filter, store, ctx.config());
    // A terminal stderr only, and only when the sessions go elsewhere (a line
    // redrawn between them would garble them).
    Progress progress(ctx.io().err,
                      progress_wanted(ctx.io().err_is_tty, ctx.quiet(), ctx.json()) && !ctx.io().out_is_tty,
                      "inspect: scanned");
    auto examine = [&](const StoredSession& record) {  // on worker threads
        ScanVerdict verdict;
        if (prefilter && prefilter->rejects(record.data)) return verdict;
        SessionView view = view_session(record, store, now);
        const FilterVerdict matched = filter_verdict(filter, view);
        verdict.unmatchable = matched == FilterVerdict::unmatchable;
        if (matched == FilterVerdict::match && printer.wanted(view)) {
            mark_dead(filter, view);
            verdict.shown = true;
            verdict.text = printer.render(view);
        }
        return verdict;
    };
    Store* shadow = store.shadow_records();
    ListedRows listed_rows;                                               // with shadow records only
    auto take = [&](const StoredSession& record, ScanVerdict& verdict) {  // in scan order
        if (shadow) listed_rows.add(record.key);
        if (verdict.unmatchable) ++unmatchable;
        if (verdict.shown) printer.print(verdict.text);
        return !printer.full();
    };
    auto before = [&] {
        if (interrupted()) return false;
        progress.update(++scanned);
        return true;
    };
    ParallelScan<ScanVerdict>::run(store, examine, take, before);
    std::uint64_t shadow_only = 0;
    if (shadow && !interrupted() && !printer.full()) {
        listed_rows.seal();
        shadow_only = inspect_shadow_only(store, *shadow, filter, listed_rows, printer, before, unmatchable);
    }
    progress.finish();
    ctx.out().flush();
    ctx.report_store_messages(store);
    report_stale_leftovers(store, ctx);
    if (shadow_only) {
        const Store::ShadowTerms terms = store.shadow_terms();
        ctx.warn(fmt::format(
            "{} {}: {} (`sessionctl delete KEY` removes it)",
            shadow_only == 1 ? std::string("1 session shown is") : fmt::format("{} sessions shown are", shadow_only),
            terms.place, terms.reason));
    }
    if (unmatchable)
        ctx.note(fmt::format("{} could not be decoded and verified, so no filter matched them",
                             count_of(unmatchable, "session")));
    if (interrupted()) {
        ctx.error(
            fmt::format("interrupted after scanning {} and showing {}", count_of(scanned, "session"), printer.shown));
        return ExitCode::interrupted;
    }
    bool filtered = !filter.empty() || printer.args.expired_only || printer.args.live_only;
    if (filtered && printer.shown == 0) {
        ctx.error("no session matched");
        return ExitCode::not_found;
    }
    return ExitCode::ok;
}

}  // namespace

ExitCode run_inspect(const InspectArgs& args, Context& ctx) {
    bool by_key = args.keys.from_stdin || !args.keys.keys.empty();
    bool scan = args.all || args.user || !args.where.empty() || args.dead;
    if (by_key && scan) throw UsageError("name session keys, or use --all/--user/--where, not both");
    if (!by_key && !scan) throw UsageError("name session keys, or use --stdin, --all, --user or --where");
    if (args.expired_only && args.live_only) throw UsageError("--expired and --live exclude each other");
    if (args.limit && *args.limit == 0) throw UsageError("--limit must be at least 1");

    // Input is validated before any store is opened.
    std::vector<std::string> keys;
    SessionFilter filter;
    if (by_key) keys = collect_keys(args.keys, ctx.io().in, ctx.key_rule());
    else filter = make_filter(args.user, args.where);

    auto store = ctx.open_store(Access::read_only);
    std::optional<LoginChecker> dead;
    if (args.dead) filter.dead = &dead.emplace(ctx.user_table(), ctx.config());
    InterruptGuard interrupt_guard;  // Ctrl-C stops between records
    Printer printer{args, ctx, ctx.clock().now_micros()};
    return by_key ? inspect_keys(keys, *store, printer, ctx) : inspect_all(filter, *store, printer, ctx);
}

}  // namespace sessionctl::cli
