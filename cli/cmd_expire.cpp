// sessionctl expire: set_expiry() on stored sessions and save() them, as a
// Django view would. Never rewrites data it could not decode: the raw record
// is decoded first (it must be a verified dict), and the session is saved
// only when what it loads is that same dict.

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include "cli/commands.hpp"
#include "cli/expiry_arg.hpp"
#include "cli/interrupt.hpp"
#include "cli/pyvalue_json.hpp"
#include "cli/session_view.hpp"
#include "core/errors.hpp"

namespace sessionctl::cli {

CLI::App* setup_expire(CLI::App& parent, ExpireArgs& args) {
    CLI::App* cmd = parent.add_subcommand("expire", "Change sessions' expiry exactly as set_expiry() would");
    auto* keys = cmd->add_option("keys", args.keys.keys, "Session keys to change")->type_name("KEY");
    auto* from_stdin =
        cmd->add_flag("--stdin", args.keys.from_stdin, "Read session keys from standard input, one per line")
            ->excludes(keys);
    cmd->add_flag("-0,--null", args.keys.null_separated, "With --stdin: keys are NUL-separated")->needs(from_stdin);
    auto* in =
        cmd->add_option("--in", args.in_seconds, "set_expiry(SECONDS): expire SECONDS from now (0 = browser close)")
            ->type_name("SECONDS");
    auto* at = cmd->add_option("--at", args.at, "set_expiry(datetime): expire at this ISO 8601 date-time")
                   ->type_name("ISO8601");
    auto* close = cmd->add_flag("--browser-close", args.browser_close, "set_expiry(0): expire when the browser closes");
    auto* def = cmd->add_flag("--default", args.to_default, "set_expiry(None): back to SESSION_COOKIE_AGE");
    auto* now = cmd->add_flag("--now", args.now, "set_expiry(now): expired immediately");
    cmd->add_flag("--dry-run", args.dry_run, "Show each session's new expiry date; change nothing");
    std::vector<CLI::Option*> modes{in, at, close, def, now};
    for (auto* a : modes)
        for (auto* b : modes)
            if (a != b) a->excludes(b);
    cmd->footer(R"(EXAMPLES
  sessionctl expire 4x8zyq0wd2m1j5vhn3b7k6c9p0r2s1tq --in 3600
  sessionctl expire 4x8zyq0wd2m1j5vhn3b7k6c9p0r2s1tq --at 2030-01-01T00:00:00Z
  sessionctl inspect --user 42 --keys-only | sessionctl expire --stdin --now
  sessionctl expire 4x8zyq0wd2m1j5vhn3b7k6c9p0r2s1tq --default --json

DJANGO 3.2
  Django 3.2 keeps set_expiry(datetime) as a datetime object, which its JSON
  serializer cannot save. With DJANGO_VERSION 3.2 in the config, --at and --now
  therefore store whole seconds from now, as set_expiry(SECONDS) does (negative
  once the date has passed), so Django 3.2 can load, judge and re-save them.)");
    return cmd;
}

namespace {

// Django 3.2 reads an expiry in the session data only as seconds: a date
// becomes the whole seconds from now, rounded away from now so that a date in
// the past never turns into 0 (browser close).
ExpiryValue expiry_for_store(const DateTime& when, const Store& store) {
    const SessionEnvironment& env = store.environment();
    if (env.settings.series != DjangoSeries::v3_2) return when;
    std::int64_t micros = subtract_micros(when, env.now());
    constexpr std::int64_t kSecond = 1'000'000;
    if (micros <= 0) return std::min<std::int64_t>(-1, -((-micros + kSecond - 1) / kSecond));
    return (micros + kSecond - 1) / kSecond;
}

enum class ItemResult { updated, missing, undecodable, failed };

// With dry_run, the session is changed in memory only and `new_expiry` gets
// the expiry date a save would store.
ItemResult expire_one(const std::string& key, const ExpiryValue& expiry, Store& store, Context& ctx, bool dry_run,
                      std::string& new_expiry) {
    const DateTime now = store.environment().now();
    auto record = store.fetch(key);
    if (!record) {
        ctx.error(fmt::format("no session {}", key));
        return ItemResult::missing;
    }
    if (store.is_expired(*record, now)) {
        ctx.error(fmt::format("session {} has expired (Django no longer loads it)", key));
        return ItemResult::missing;
    }
    SessionView view = view_session(*record, store, now);
    if (!view.verified_dict) {
        ctx.error(fmt::format("session {} left untouched: {}", key, printable(view.error.value_or("unreadable"))));
        return ItemResult::undecodable;
    }
    ctx.race_point("expire: before open", key);
    auto session = store.open(key);
    // Loading happens here. If the record vanished, expired or changed since
    // it was read, saving could create a new session or overwrite data we
    // never decoded: refuse instead.
    PyDict loaded;
    for (const auto& [k, v] : session->items()) loaded.set(k, v);
    if (!session->session_key() || !(loaded == *view.dict())) {
        ctx.error(fmt::format("session {} changed while it was being updated; left untouched", key));
        return ItemResult::failed;
    }
    try {
        session->set_expiry(expiry);
        if (dry_run) {
            new_expiry = utc_text(session->get_expiry_date().to_unix_micros());
            return ItemResult::updated;
        }
        session->save();
    } catch (const UpdateError&) {
        ctx.error(fmt::format("session {} was deleted while it was being updated; not recreated", key));
        return ItemResult::failed;
    } catch (const StoreUnavailable&) {
        throw;
    } catch (const StoreError&) {
        throw;
    } catch (const SessionError& e) {
        // Django would raise here too: e.g. an _session_expiry it cannot read
        // or store. The record is left as it was.
        ctx.error(fmt::format("session {} left untouched: {}", key, e.what()));
        return ItemResult::undecodable;
    }
    return ItemResult::updated;
}

}  // namespace

ExitCode run_expire(const ExpireArgs& args, Context& ctx) {
    int modes = int(args.in_seconds.has_value()) + int(args.at.has_value()) + int(args.browser_close) +
                int(args.to_default) + int(args.now);
    if (modes != 1) throw UsageError("give exactly one of --in, --at, --browser-close, --default, --now");
    std::vector<std::string> keys = collect_keys(args.keys, ctx.io().in, ctx.key_rule());
    if (keys.empty() && !args.keys.from_stdin) throw UsageError("name the session keys to change (or use --stdin)");

    const Config& config = ctx.config();
    std::optional<DateTime> at;
    if (args.at) at = parse_datetime_arg(*args.at, config.use_tz(), "--at");

    if (args.in_seconds) check_expiry_seconds(*args.in_seconds, ctx.clock(), "--in");

    auto store = ctx.open_store(args.dry_run ? Access::read_only : Access::read_write);
    InterruptGuard interrupt_guard;  // Ctrl-C stops between keys; what was updated is reported
    std::uint64_t processed = 0, updated = 0, missing = 0, undecodable = 0, failed = 0;
    std::vector<std::string> updated_keys;
    std::vector<std::string> new_expiries;  // with --dry-run, one per updated key
    for (const auto& key : keys) {
        if (interrupted()) break;
        ++processed;
        ExpiryValue expiry;
        if (args.in_seconds) expiry = *args.in_seconds;
        else if (at) expiry = expiry_for_store(*at, *store);
        else if (args.browser_close) expiry = std::int64_t{0};
        else if (args.now) expiry = expiry_for_store(store->environment().now(), *store);  // per key
        std::string new_expiry;
        switch (expire_one(key, expiry, *store, ctx, args.dry_run, new_expiry)) {
            case ItemResult::updated:
                ++updated;
                updated_keys.push_back(key);
                new_expiries.push_back(new_expiry);
                break;
            case ItemResult::missing: ++missing; break;
            case ItemResult::undecodable: ++undecodable; break;
            case ItemResult::failed: ++failed; break;
        }
    }

    std::uint64_t matched = processed - missing;
    if (ctx.json()) {
        ordered_json j = ordered_json::object();
        j["matched"] = matched;
        j["updated"] = updated;
        j["keys"] = updated_keys;
        if (args.dry_run) {
            j["dry_run"] = true;
            j["expire_dates"] = new_expiries;
        }
        ctx.out() << dump_json(j) << '\n';
    } else if (!ctx.quiet()) {
        ctx.out() << (args.dry_run ? "would update " : "updated ") << count_of(updated, "session") << '\n';
        for (std::size_t i = 0; i < updated_keys.size(); ++i) {
            if (args.dry_run) ctx.out() << updated_keys[i] << "  expires " << new_expiries[i] << '\n';
            else if (ctx.verbose() > 0) ctx.out() << updated_keys[i] << '\n';
        }
    }
    ctx.out().flush();

    if (interrupted()) {
        ctx.error(fmt::format("interrupted; updated {} of {} keys given", updated, keys.size()));
        return ExitCode::interrupted;
    }
    if (undecodable) return ExitCode::bad_data;
    if (failed) {
        ctx.error(fmt::format("{} of {} sessions could not be updated", failed, keys.size()));
        return ExitCode::partial;
    }
    if (missing) return ExitCode::not_found;
    return ExitCode::ok;
}

}  // namespace sessionctl::cli
