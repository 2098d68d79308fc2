// sessionctl copy --to OTHER.json: the configured store's live sessions into
// the store another config file describes, any engine to any engine, so that
// a site can change SESSION_ENGINE (or move its store) without logging
// anyone out. Sessions are read (scan or by key), prepared on worker threads
// (cli/copy_session.*), and written in batches with atomic creates
// (Store::write_sessions): a key the target already holds is left alone
// unless --overwrite, which replaces it only while it still holds what was
// read. --move then removes each written session from the source, only if
// the source still holds what was copied. A key already in the target with
// the same data counts as done, so a rerun after Ctrl-C, --max-runtime or a
// failure finishes the job without duplicates or errors. A target with
// another SECRET_KEY gets each login's _auth_user_hash made anew with its key
// when the user table can be read; cached_db sources give their cached
// copies whose row is gone too (Django serves them).

#include <algorithm>
#include <chrono>
#include <cmath>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include "backends/registry.hpp"
#include "cli/commands.hpp"
#include "cli/copy_session.hpp"
#include "cli/interrupt.hpp"
#include "cli/listed_rows.hpp"
#include "cli/parallel_scan.hpp"
#include "cli/progress.hpp"
#include "cli/pyvalue_json.hpp"

namespace sessionctl::cli {

CLI::App* setup_copy(CLI::App& parent, CopyArgs& args) {
    CLI::App* cmd = parent.add_subcommand(
        "copy", "Copy sessions to another store (any engine), keeping key, data and expiry: nobody is logged out");
    cmd->add_option("--to", args.to, "Config file of the target store (JSON of Django setting names)")
        ->type_name("FILE")
        ->required();
    auto* keys =
        cmd->add_option("keys", args.keys.keys, "Session keys to copy (default: every live session)")->type_name("KEY");
    auto* from_stdin =
        cmd->add_flag("--stdin", args.keys.from_stdin, "Read session keys from standard input, one per line")
            ->excludes(keys);
    cmd->add_flag("-0,--null", args.keys.null_separated, "With --stdin: keys are NUL-separated")->needs(from_stdin);
    cmd->add_option("--user", args.user, "Copy the verified sessions of this user id (_auth_user_id)")
        ->type_name("ID")
        ->excludes(keys)
        ->excludes(from_stdin);
    cmd->add_option("--where", args.where,
                    "Copy verified sessions whose value at dotted PATH equals VALUE (JSON, else a string); "
                    "repeatable")
        ->type_name("PATH=VALUE")
        ->allow_extra_args(false)
        ->excludes(keys)
        ->excludes(from_stdin);
    cmd->add_flag("--dry-run", args.dry_run, "Show what would be copied and skipped; write nothing");
    auto* overwrite = cmd->add_flag("--overwrite", args.overwrite,
                                    "Replace a target session that holds other data (only if it still holds what "
                                    "was read); without it such keys are left as they are (exit 5)");
    cmd->add_flag("--overwrite-older", args.overwrite_older,
                  "Like --overwrite, but only where the target's copy expires earlier than the source's (it was "
                  "saved before the source's last save): the second pass of a cut-over")
        ->excludes(overwrite);
    cmd->add_flag("--move", args.move,
                  "Delete each copied session from the source once its copy is written (only if the source "
                  "still holds what was copied)");
    cmd->add_option("--max-runtime", args.max_runtime_seconds,
                    "Start no new batch after SECONDS; run again to finish (nothing is copied twice)")
        ->type_name("SECONDS");
    cmd->footer(R"(Expired sessions are not copied. Signed data is re-signed with the target's secret and
salt when they differ; the cache engine gets the pickle Django's cache writes; cached_db both
its row and its cache entry. A key the target holds with the same data counts as copied, so
a rerun finishes an interrupted copy.

EXAMPLES
  sessionctl copy --to /etc/mysite/sessionctl-redis.json --dry-run
  sessionctl copy --to /etc/mysite/sessionctl-redis.json
  sessionctl copy --to new.json --overwrite-older     # after switching SESSION_ENGINE
  sessionctl copy --to new.json --user 42 --move)");
    return cmd;
}

namespace {

// Sessions written per Store::write_sessions call (and per --move removal).
constexpr std::size_t kCopyBatch = 500;

struct CopyTotals {
    std::uint64_t matched = 0;
    std::uint64_t copied = 0;         // written (or, with --dry-run, that would be)
    std::uint64_t already_there = 0;  // the target holds the same data: done before
    std::uint64_t overwritten = 0;    // of copied: replaced a different target session
    std::uint64_t existing = 0;       // kept: the target holds other data (no --overwrite)
    std::uint64_t changed = 0;        // kept: the target changed between our read and write
    std::uint64_t expired = 0;        // not copied: expired (at the source, or by the time of writing)
    std::uint64_t failed = 0;         // could not be decoded and verified
    std::uint64_t unmatchable = 0;    // a filter could not see into them
    std::uint64_t moved = 0;          // removed from the source (--move)
    std::uint64_t move_kept = 0;      // --move: rewritten in the source meanwhile, kept there
    std::uint64_t logins_lost = 0;    // copied with an _auth_user_hash the target will refuse
    std::uint64_t rehashed = 0;       // copied with _auth_user_hash made anew with the target's key
    std::uint64_t from_shadow = 0;    // of copied: cached_db copies whose row is gone
    std::uint64_t missing_keys = 0;   // named keys the source does not have
    std::vector<std::string> keys;    // copied (or would be)
    std::vector<std::string> existing_keys;
    bool complete = true;
    bool hit_max_runtime = false;

    [[nodiscard]] std::uint64_t skipped() const { return already_there + existing + changed + expired; }
};

// One batch of sessions on their way to the target.
struct PendingCopy {
    SessionWrite write;
    StoredSession source;  // as read: what --move may remove
    Store* holder = nullptr;
    bool in_shadow = false;  // holder is the source's shadow_records()
    bool login_lost = false;
    bool hash_recomputed = false;
};

class Copier {
public:
    Copier(const CopyArgs& args, Context& ctx, Store& target) : args_(args), ctx_(ctx), target_(target) {}

    void add(PendingCopy item) {
        batch_.push_back(std::move(item));
        if (batch_.size() >= kCopyBatch) flush();
    }

    // Writes the pending batch: creates, then for keys already taken either
    // "done before" (same data), a replace (--overwrite), or a conflict;
    // then --move's removals.
    void flush() {
        if (batch_.empty()) return;
        std::vector<SessionWrite> writes;
        writes.reserve(batch_.size());
        for (const auto& p : batch_) writes.push_back(p.write);
        std::vector<WriteOutcome> outcomes;
        if (args_.dry_run) {
            outcomes.assign(batch_.size(), WriteOutcome::written);
            for (std::size_t i = 0; i < batch_.size(); ++i)
                if (target_.fetch(batch_[i].write.key)) outcomes[i] = WriteOutcome::key_taken;
        } else {
            ctx_.race_point("copy: before write");
            outcomes = target_.write_sessions(writes, WriteMode::create);
        }
        std::vector<std::size_t> replace_index;
        std::vector<SessionWrite> replaces;
        std::vector<bool> done(batch_.size(), false);
        for (std::size_t i = 0; i < batch_.size(); ++i) {
            switch (outcomes[i]) {
                case WriteOutcome::written:
                    count_copied(i);
                    done[i] = true;
                    break;
                case WriteOutcome::expired: ++totals_.expired; break;
                case WriteOutcome::changed: ++totals_.changed; break;
                case WriteOutcome::key_taken: {
                    auto existing = target_.fetch(batch_[i].write.key);
                    if (!existing) {  // removed since the create found it: a logout, not ours to undo
                        ++totals_.changed;
                        break;
                    }
                    const DecodeResult decoded = target_.decode_record(*existing);
                    if (decoded.ok() && decoded.verified && decoded.data.is_dict() &&
                        decoded.data.as_dict() == batch_[i].write.data) {
                        ++totals_.already_there;
                        done[i] = true;
                        break;
                    }
                    // An expired record is no session to Django: replaced like a free key.
                    if (target_.is_expired(*existing, target_.environment().now()) ||
                        wants_replace(*existing, batch_[i].write)) {
                        SessionWrite w = batch_[i].write;
                        w.expected_data = existing->data;
                        replaces.push_back(std::move(w));
                        replace_index.push_back(i);
                        break;
                    }
                    ++totals_.existing;
                    totals_.existing_keys.push_back(batch_[i].write.key);
                    break;
                }
            }
        }
        if (!replaces.empty()) {
            std::vector<WriteOutcome> replaced;
            if (args_.dry_run) {
                replaced.assign(replaces.size(), WriteOutcome::written);
            } else {
                ctx_.race_point("copy: before replace");
                replaced = target_.write_sessions(replaces, WriteMode::replace_if_unchanged);
            }
            for (std::size_t j = 0; j < replaced.size(); ++j) {
                const std::size_t i = replace_index[j];
                if (replaced[j] == WriteOutcome::written) {
                    count_copied(i);
                    ++totals_.overwritten;
                    done[i] = true;
                } else if (replaced[j] == WriteOutcome::expired) {
                    ++totals_.expired;
                } else {
                    ++totals_.changed;
                }
            }
        }
        if (args_.move) move_done(done);
        batch_.clear();
    }

    CopyTotals& totals() { return totals_; }

private:
    void count_copied(std::size_t i) {
        ++totals_.copied;
        if (batch_[i].login_lost) ++totals_.logins_lost;
        if (batch_[i].hash_recomputed) ++totals_.rehashed;
        if (batch_[i].in_shadow) ++totals_.from_shadow;
        totals_.keys.push_back(batch_[i].write.key);
    }

    // --overwrite: any other data; --overwrite-older: only a target copy that
    // expires before the source's (saved earlier, at the same cookie age).
    [[nodiscard]] bool wants_replace(const StoredSession& existing, const SessionWrite& w) {
        if (args_.overwrite) return true;
        if (!args_.overwrite_older) return false;
        if (!existing.expire_date) return false;
        const DateTime& e = *existing.expire_date;
        const bool use_tz = target_.environment().settings.use_tz;
        const std::int64_t target_expiry = e.aware() ? e.utc_micros() : (use_tz ? e.wall_micros : e.to_unix_micros());
        return target_expiry < w.expires_at_micros;
    }

    // Removes from the source the sessions now in the target, each only if
    // the source still holds what was copied.
    void move_done(const std::vector<bool>& done) {
        // By holder: cached_db's row-less cache copies are removed from the cache.
        std::vector<std::pair<Store*, std::vector<StoredSession>>> groups;
        for (std::size_t i = 0; i < batch_.size(); ++i) {
            if (!done[i]) continue;
            Store* holder = batch_[i].holder;
            auto it = std::find_if(groups.begin(), groups.end(), [&](const auto& g) { return g.first == holder; });
            if (it == groups.end()) it = groups.insert(groups.end(), {holder, {}});
            it->second.push_back(batch_[i].source);
        }
        for (auto& [holder, records] : groups) {
            if (args_.dry_run) {
                totals_.moved += records.size();
                continue;
            }
            ctx_.race_point("copy: before move");
            BulkResult removed = holder->remove(records, /*want_keys=*/false);
            totals_.moved += removed.removed;
            totals_.move_kept += records.size() - removed.removed;
        }
    }

    const CopyArgs& args_;
    Context& ctx_;
    Store& target_;
    std::vector<PendingCopy> batch_;
    CopyTotals totals_;
};

void report_copy(const CopyTotals& t, const CopyArgs& args, std::string_view target_engine,
                 const Store::ShadowTerms& shadow_terms, Context& ctx) {
    const bool list_keys = ctx.verbose() > 0 || args.dry_run;
    if (ctx.json()) {
        ordered_json j = ordered_json::object();
        j["matched"] = t.matched;
        j["copied"] = t.copied;
        j["skipped"] = t.skipped();
        j["failed"] = t.failed;
        if (list_keys) j["keys"] = t.keys;
        ordered_json why = ordered_json::object();
        why["already_in_target"] = t.already_there;
        why["exists_in_target"] = t.existing;
        why["changed_in_target"] = t.changed;
        why["expired"] = t.expired;
        j["skipped_because"] = why;
        if (!t.existing_keys.empty()) j["existing_keys"] = t.existing_keys;
        if (args.overwrite || args.overwrite_older) j["overwritten"] = t.overwritten;
        if (args.move) {
            j["moved"] = t.moved;
            j["kept_in_source"] = t.move_kept;
        }
        j["logins_lost"] = t.logins_lost;
        j["auth_hashes_recomputed"] = t.rehashed;
        if (!shadow_terms.place.empty()) j["copied_from_cache_only"] = t.from_shadow;
        j["complete"] = t.complete;
        if (args.dry_run) j["dry_run"] = true;
        ctx.out() << dump_json(j) << '\n';
    } else if (!ctx.quiet()) {
        ctx.out() << (args.dry_run ? "would copy " : "copied ") << count_of(t.copied, "session") << " to "
                  << target_engine;
        if (t.skipped() > 0) ctx.out() << "; skipped " << t.skipped();
        if (t.failed > 0) ctx.out() << "; failed " << t.failed;
        ctx.out() << '\n';
        if (t.from_shadow)
            ctx.out() << "  " << t.from_shadow << " of them " << shadow_terms.place << " (" << shadow_terms.reason
                      << ")\n";
        if (t.rehashed)
            ctx.out() << "  " << count_of(t.rehashed, "login") << " kept: _auth_user_hash made anew with the target's "
                      << "SECRET_KEY\n";
        if (t.already_there) ctx.out() << "  " << t.already_there << " already in the target with the same data\n";
        if (t.existing) ctx.out() << "  " << t.existing << " kept: the target holds other data under the key\n";
        if (t.changed) ctx.out() << "  " << t.changed << " kept: changed in the target while copying\n";
        if (t.expired) ctx.out() << "  " << t.expired << " expired, not copied\n";
        if (args.move)
            ctx.out() << "  " << (args.dry_run ? "would move " : "moved ") << t.moved
                      << (t.move_kept ? fmt::format(" ({} kept in the source: rewritten there meanwhile)", t.move_kept)
                                      : std::string())
                      << '\n';
        if (list_keys)
            for (const auto& key : t.keys) ctx.out() << printable(key) << '\n';
    }
    ctx.out().flush();
}

std::chrono::milliseconds max_runtime_of(const CopyArgs& args) {
    if (!args.max_runtime_seconds) return std::chrono::milliseconds{0};
    const double v = *args.max_runtime_seconds;
    if (!std::isfinite(v) || v <= 0 || v > 365.0 * 24 * 3600)
        throw UsageError("--max-runtime must be a number of seconds above 0");
    return std::max(std::chrono::milliseconds{1}, std::chrono::milliseconds{std::llround(v * 1000)});
}

// The target's configuration, checked before any store is opened.
Config load_target_config(const CopyArgs& args, Context& ctx) {
    ConfigSources sources;
    sources.config_path = args.to;
    Config target = Config::load(sources);
    for (const auto& w : target.warnings()) ctx.warn(w);
    const Config& source = ctx.config();
    for (const Config* c : {&source, static_cast<const Config*>(&target)})
        if (c->session_engine() == "django.contrib.sessions.backends.signed_cookies")
            throw UsageError(fmt::format(
                "copy cannot {} the signed_cookies engine: its sessions live in the browsers' cookies, not in a "
                "store (they follow the site to any engine by themselves only if it keeps signed_cookies)",
                c == &source ? "copy from" : "copy to"));
    if (store_identity(source) == store_identity(target))
        throw UsageError(fmt::format("--to {} names the store being copied from", args.to));
    if (!target.has_secret())
        throw ConfigError(
            fmt::format("{} has no secret (SECRET_KEY_FILE or SECRET_KEY): the target's secret "
                        "signs what is written there",
                        args.to));
    ctx.scrub_also(target.secret_keys());
    if (target.secret_origin().starts_with("environment") && target.get("SECRET_KEY").is_string())
        ctx.warn(
            fmt::format("{}'s SECRET_KEY is overridden by $SESSIONCTL_SECRET_KEY; give the target a "
                        "SECRET_KEY_FILE when the secrets differ",
                        args.to));
    // Naive datetimes are local times of one process time zone.
    if (!target.use_tz()) {
        if (!source.use_tz() && source.time_zone() != target.time_zone())
            throw UsageError(
                fmt::format("source and target both have USE_TZ false, with different TIME_ZONEs "
                            "('{}', '{}'): copy one way at a time through a USE_TZ store",
                            source.time_zone(), target.time_zone()));
        apply_time_zone(target);
    }
    return target;
}

// The user table, for re-hashing logins with the target's SECRET_KEY: the
// target's DATABASES when they reach it, else the source's (a copy within
// one site's users). nullopt, with why, when neither does: the logins are
// then counted as lost, as without a table.
std::optional<UserTable> load_users(const Config& target, const Config& source, const UserTableOptions& options,
                                    std::string& why_not, Context& ctx) {
    std::vector<std::string> reasons;
    for (const Config* config : {&target, &source}) {
        const char* side = config == &target ? "target" : "source";
        try {
            auto users = open_user_source(*config);
            const auto started = std::chrono::steady_clock::now();
            UserTable table = UserTable::load(*users, options);
            const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
            ctx.note(
                fmt::format("read {} users from {} (the {}'s) in {:.2f}s, to re-hash logins with the target's "
                            "SECRET_KEY",
                            table.size(), users->describe(), side, seconds));
            return table;
        } catch (const ConfigError& e) {
            reasons.push_back(fmt::format("{}: {}", side, e.what()));
        } catch (const SessionError& e) {
            reasons.push_back(fmt::format("{}: {}", side, e.what()));
        }
    }
    why_not = reasons.front() + "; " + reasons.back();
    return std::nullopt;
}

}  // namespace

ExitCode run_copy(const CopyArgs& args, Context& ctx) {
    const bool by_key = args.keys.from_stdin || !args.keys.keys.empty();
    const bool by_filter = args.user || !args.where.empty();
    if (by_key && by_filter) throw UsageError("copy by key or by --user/--where, not both");
    const std::chrono::milliseconds max_runtime = max_runtime_of(args);
    CopyPlan plan;
    plan.filter = make_filter(args.user, args.where);
    std::vector<std::string> keys;
    if (by_key) keys = collect_keys(args.keys, ctx.io().in, ctx.key_rule());

    const Config target_config = load_target_config(args, ctx);
    auto source = ctx.open_store(args.move && !args.dry_run ? Access::read_write : Access::read_only);
    const SessionEnvironment& source_env = source->environment();
    plan.target_env =
        SessionEnvironment::make(target_config.session_settings(), target_config.secret_keys(), source_env.clock);
    StoreOptions target_options;
    target_options.access = args.dry_run ? Access::read_only : Access::read_write;
    auto target = open_store(target_config, plan.target_env, target_options);
    plan.now = source_env.now();
    plan.target_signed = target->records_are_signed_session_data();
    const SecretKeys& source_keys = ctx.config().secret_keys();
    plan.same_signing =
        signs_alike(source_keys, target_config.secret_keys(), source_env.settings, plan.target_env->settings);
    plan.login_hash_survives =
        login_hash_survives(source_keys, target_config.secret_keys(), plan.target_env->settings.series);
    std::optional<UserTable> users;
    std::string users_unreachable;
    if (!plan.login_hash_survives) {
        users = load_users(target_config, ctx.config(),
                           user_table_options(source_keys, source_env.settings.series, target_config.secret_keys()),
                           users_unreachable, ctx);
        if (users) plan.users = &*users;
    }
    if (by_key)
        for (const auto& key : keys)
            if (auto problem = key_problem(key, key_rule_for_engine(target_config.session_engine())))
                throw UsageError(fmt::format("session key '{}' cannot be a key of the target store: it {}",
                                             printable(key), *problem));

    InterruptGuard interrupt_guard;  // Ctrl-C stops between batches; what was copied is reported
    Copier copier(args, ctx, *target);
    CopyTotals& t = copier.totals();
    const auto started = std::chrono::steady_clock::now();
    auto out_of_time = [&] {
        return max_runtime.count() > 0 && std::chrono::steady_clock::now() - started >= max_runtime;
    };
    Progress progress(ctx, "copy");
    std::uint64_t read = 0;
    std::uint64_t undecodable_shown = 0;
    auto take = [&](const StoredSession& record, Store& holder, bool in_shadow, PreparedCopy& prepared) {
        switch (prepared.kind) {
            case PreparedCopy::Kind::not_selected: return;
            case PreparedCopy::Kind::unmatchable: ++t.unmatchable; return;
            case PreparedCopy::Kind::expired: ++t.matched, ++t.expired; return;
            case PreparedCopy::Kind::undecodable:
                ++t.matched, ++t.failed;
                if (undecodable_shown++ < 10)
                    ctx.warn(fmt::format("{}: not copied: {}", printable(record.key), prepared.error));
                return;
            case PreparedCopy::Kind::copy: break;
        }
        ++t.matched;
        copier.add({std::move(prepared.write), StoredSession{record.key, record.data, std::nullopt, record.flags},
                    &holder, in_shadow, prepared.login_lost, prepared.hash_recomputed});
    };
    auto should_stop = [&] {
        if (interrupted()) return true;
        if (out_of_time()) {
            t.hit_max_runtime = true;
            return true;
        }
        return false;
    };

    if (by_key) {
        for (const auto& key : keys) {
            if (should_stop()) break;
            auto located = source->locate(key);
            if (!located) {
                ++t.missing_keys;
                ctx.warn(fmt::format("{}: no such session in the source", printable(key)));
                continue;
            }
            PreparedCopy prepared = prepare_copy(located->record, *located->holder, plan);
            take(located->record, *located->holder, located->in_shadow, prepared);
            progress.update(++read, keys.size());
        }
    } else {
        // Batches are written from the scan's ordered step, between reads of
        // the source; the target is another store, so no page is written
        // while it is read.
        Store* shadow = source->shadow_records();
        ListedRows listed_rows;  // with shadow records only
        auto examine = [&](const StoredSession& record) { return prepare_copy(record, *source, plan); };
        auto take_scanned = [&](const StoredSession& record, PreparedCopy& prepared) {
            if (shadow) listed_rows.add(record.key);
            take(record, *source, false, prepared);
            return true;
        };
        auto before = [&] {
            if (should_stop()) return false;
            progress.update(++read);
            return true;
        };
        ParallelScan<PreparedCopy>::run(*source, examine, take_scanned, before, scan_worker_count());
        // Then the shadow records the listing does not hold (cached_db: a
        // cached copy whose row is gone, which Django's load() still serves).
        // Workers prepare every copy; only the selected ones cost a question
        // to the table, and only when the scan did not list their key.
        if (shadow && !should_stop()) {
            listed_rows.seal();
            auto examine_shadow = [&](const StoredSession& record) { return prepare_copy(record, *shadow, plan); };
            auto take_shadow = [&](const StoredSession& record, PreparedCopy& prepared) {
                if (prepared.kind == PreparedCopy::Kind::not_selected) return true;
                if (listed_rows.listed(record.key) || source->has_main_record(record.key)) return true;
                take(record, *shadow, true, prepared);
                return true;
            };
            ParallelScan<PreparedCopy>::run(*shadow, examine_shadow, take_shadow, before, scan_worker_count());
        }
    }
    copier.flush();
    progress.finish();
    t.complete = !interrupted() && !t.hit_max_runtime;
    ctx.report_store_messages(*source);
    ctx.report_store_messages(*target);
    report_copy(t, args, target_config.session_engine(), source->shadow_terms(), ctx);

    if (t.unmatchable)
        ctx.note(fmt::format("{} could not be decoded and verified, so no filter matched them",
                             count_of(t.unmatchable, "session")));
    if (t.logins_lost && users)
        ctx.warn(
            fmt::format("{} {} copied with a login (_auth_user_hash) that matches no current password in {} "
                        "(user gone or password changed: the source refuses {} too), so it was not re-hashed "
                        "for {}'s SECRET_KEY: those users must log in again",
                        t.logins_lost, t.logins_lost == 1 ? "session was" : "sessions were", users->source(),
                        t.logins_lost == 1 ? "it" : "them", args.to));
    else if (t.logins_lost)
        ctx.warn(fmt::format(
            "{} {} copied with a login (_auth_user_hash) made with the source's SECRET_KEY, which {} does not "
            "accept: {} will not survive (those users must log in again; their other session data is kept). "
            "Re-hashing needs the user table, which could not be read ({}); keeping the source's SECRET_KEY in "
            "the target's SECRET_KEY_FALLBACKS (Django >= 4.1) keeps them",
            t.logins_lost, t.logins_lost == 1 ? "session was" : "sessions were", args.to,
            t.logins_lost == 1 ? "that login" : "those logins", users_unreachable));
    if (!t.complete) {
        if (interrupted()) {
            ctx.error(fmt::format("interrupted; copied {} so far; run the same command again to finish", t.copied));
            return ExitCode::interrupted;
        }
        ctx.warn(fmt::format("stopped at --max-runtime after copying {}; run the same command again to finish",
                             count_of(t.copied, "session")));
    }
    if (t.existing || t.failed || t.move_kept || t.changed) {
        std::vector<std::string> parts;
        if (t.existing)
            parts.push_back(
                fmt::format("{} already in the target with other data (kept; --overwrite replaces)", t.existing));
        if (t.changed) parts.push_back(fmt::format("{} changed in the target while copying (kept)", t.changed));
        if (t.failed) parts.push_back(fmt::format("{} could not be decoded and verified", t.failed));
        if (t.move_kept)
            parts.push_back(
                fmt::format("{} rewritten in the source after they were read (kept there; copy again "
                            "with --overwrite-older)",
                            t.move_kept));
        std::string text;
        for (const auto& p : parts) text += (text.empty() ? "" : "; ") + p;
        ctx.error(fmt::format("{} of {} not copied{}: {}", t.existing + t.changed + t.failed, t.matched,
                              t.move_kept ? " or not moved" : "", text));
        return ExitCode::partial;
    }
    if (t.missing_keys) return ExitCode::not_found;
    if (by_filter && t.matched == 0) {
        ctx.error("no session matched");
        return ExitCode::not_found;
    }
    return ExitCode::ok;
}

}  // namespace sessionctl::cli
