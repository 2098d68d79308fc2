// sessionctl rekey: finish a SECRET_KEY rotation offline. Every session that
// still depends on a fallback key (SECRET_KEY_FALLBACKS) — its signature, or
// an _auth_user_hash made with a fallback key from the user's current
// password — is re-signed with SECRET_KEY and its hash recomputed with it, as
// Django itself would on the user's next request (minus its cycle_key()):
// after this, Django with the fallback removed keeps those users logged in.
// Key, data and expiry stay; writes are conditional (a session a live request
// rewrote meanwhile is left for the next run and counted).

#include <iterator>
#include <optional>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include "backends/signed_cookies_engine.hpp"
#include "backends/users/login_check.hpp"
#include "cli/commands.hpp"
#include "cli/interrupt.hpp"
#include "cli/parallel_scan.hpp"
#include "cli/progress.hpp"
#include "cli/pyvalue_json.hpp"
#include "core/auth_hash.hpp"

namespace sessionctl::cli {

CLI::App* setup_rekey(CLI::App& parent, RekeyArgs& args) {
    CLI::App* cmd = parent.add_subcommand(
        "rekey", "Re-sign the sessions that depend on a fallback key (SECRET_KEY_FALLBACKS) with SECRET_KEY");
    cmd->add_flag("--dry-run", args.dry_run,
                  "Count, per fallback key, the sessions that still depend on it; change nothing");
    cmd->footer(R"(A session depends on a fallback key when its signature verifies only with it, or when its
_auth_user_hash is that key's hash of the user's current password (Django 4.1+ accepts both
until the key is dropped). rekey re-signs such sessions with SECRET_KEY and recomputes the
hash; key, data and expiry are kept (the file engine: the file's mtime too). A session a
live request rewrote meanwhile is skipped (exit 5) and a rerun picks it up. Engines: db,
file, cache, cached_db (signed_cookies: only a key change in the browser's cookie can do it).
Reads the user table (AUTH_USER_MODEL in DATABASES) for the hashes.

KEY ROTATION
  1. new SECRET_KEY; the old one first in SECRET_KEY_FALLBACKS (site and sessionctl config)
  2. sessionctl rekey                 # every session now verifies with SECRET_KEY
  3. sessionctl rekey --dry-run       # "SECRET_KEY_FALLBACKS[0]: 0 sessions": drop it

EXAMPLES
  sessionctl rekey --dry-run
  sessionctl --json rekey | jq .by_key)");
    return cmd;
}

namespace {

// What a worker found out about one session.
struct RekeyVerdict {
    bool depends = false;
    std::optional<std::size_t> signature_key;  // a fallback's SecretKeys index (1-based) the signature needs
    std::optional<std::size_t> hash_key;       // likewise for _auth_user_hash
    std::optional<Rewrite> rewrite;            // without --dry-run
};

std::string key_name(std::size_t index) { return fmt::format("SECRET_KEY_FALLBACKS[{}]", index - 1); }

struct Totals {
    std::uint64_t matched = 0;
    std::uint64_t rekeyed = 0;
    std::vector<std::uint64_t> by_key;  // index 0 unused; fallback i at i+1
};

void report(const Totals& t, bool dry_run, const std::vector<std::string>& keys, Context& ctx) {
    const std::uint64_t skipped = dry_run ? 0 : t.matched - t.rekeyed;
    if (ctx.json()) {
        ordered_json j = ordered_json::object();
        j["matched"] = t.matched;
        j["rekeyed"] = t.rekeyed;
        j["skipped"] = skipped;
        ordered_json by_key = ordered_json::object();
        for (std::size_t i = 1; i < t.by_key.size(); ++i) by_key[key_name(i)] = t.by_key[i];
        j["by_key"] = std::move(by_key);
        if (ctx.verbose() > 0) j["keys"] = keys;
        if (dry_run) j["dry_run"] = true;
        ctx.out() << dump_json(j) << '\n';
    } else if (!ctx.quiet() || dry_run) {
        if (dry_run) ctx.out() << fmt::format("would rekey {}\n", count_of(t.matched, "session"));
        else ctx.out() << fmt::format("rekeyed {} of {}\n", t.rekeyed, count_of(t.matched, "session"));
        for (std::size_t i = 1; i < t.by_key.size(); ++i)
            ctx.out() << fmt::format(
                "  {}: {} {}\n", key_name(i), count_of(t.by_key[i], "session"),
                dry_run ? (t.by_key[i] ? "depend on it" : "depend on it: it can be dropped") : "depended on it");
        if (ctx.verbose() > 0)
            for (const auto& key : keys) ctx.out() << printable(key) << '\n';
    }
    ctx.out().flush();
}

}  // namespace

ExitCode run_rekey(const RekeyArgs& args, Context& ctx) {
    const Config& config = ctx.config();
    if (config.session_engine() == kSignedCookiesEngine)
        throw UsageError(
            "signed_cookies sessions live in the browsers' cookies: there is nothing stored to re-sign (only a key "
            "change invalidates them)");
    if (config.django_series() == DjangoSeries::v3_2)
        throw UsageError("SECRET_KEY_FALLBACKS needs Django 4.1 or later (DJANGO_VERSION says older)");
    const SecretKeys& secrets = config.secret_keys();
    auto store = ctx.open_store(args.dry_run ? Access::read_only : Access::read_write);
    if (!args.dry_run && !store->can_rewrite())
        throw UsageError(fmt::format("{} cannot rewrite sessions in place", store->engine()));

    Totals totals;
    totals.by_key.assign(1 + secrets.fallbacks.size(), 0);
    std::vector<std::string> keys;
    if (secrets.fallbacks.empty()) {
        ctx.note("SECRET_KEY_FALLBACKS is empty: no session can depend on a fallback key");
        report(totals, args.dry_run, keys, ctx);
        return ExitCode::ok;
    }
    const UserTable& users = ctx.user_table();
    const LoginChecker checker(users, config);
    const bool want_keys = ctx.verbose() > 0;

    auto examine = [&](const StoredSession& record) {  // on worker threads
        RekeyVerdict v;
        const DecodeResult decoded = store->decode_record(record);
        if (!decoded.ok() || !decoded.verified || !decoded.data.is_dict()) return v;
        if (decoded.key_index && *decoded.key_index > 0) v.signature_key = *decoded.key_index;
        PyValue data = decoded.data;
        if (auto login = checker.check(data.as_dict());
            login && !login->dead && login->hash && login->hash->secret_index > 0) {
            v.hash_key = login->hash->secret_index;
            data.as_dict().set(std::string(HASH_SESSION_KEY), PyValue(users.session_auth_hash(*login->user)));
        }
        v.depends = v.signature_key || v.hash_key;
        if (v.depends && !args.dry_run) {
            EncodedRecord encoded = store->encode_record(data);
            v.rewrite = Rewrite{record, std::move(encoded.data), encoded.flags};
        }
        return v;
    };

    // Written in batches as the scan goes (each page is read with no lock held,
    // and a rewrite never moves a session in the scan order).
    std::vector<Rewrite> pending;
    auto flush = [&] {
        if (pending.empty()) return;
        ctx.race_point("rekey: before write", pending.front().record.key);
        RewriteResult result = store->rewrite_unchanged(pending, want_keys);
        totals.rekeyed += result.rewritten;
        std::move(result.keys.begin(), result.keys.end(), std::back_inserter(keys));
        pending.clear();
    };
    constexpr std::size_t kWriteBatch = 2000;

    InterruptGuard interrupt_guard;
    Progress progress(ctx, "rekey: scanned");
    std::uint64_t scanned = 0;
    ParallelScan<RekeyVerdict>::run(
        *store, examine,
        [&](const StoredSession& record, RekeyVerdict& v) {
            if (!v.depends) return true;
            ++totals.matched;
            if (v.signature_key) ++totals.by_key[*v.signature_key];
            if (v.hash_key && v.hash_key != v.signature_key) ++totals.by_key[*v.hash_key];
            if (args.dry_run) {
                if (want_keys) keys.push_back(record.key);
                return true;
            }
            pending.push_back(std::move(*v.rewrite));
            if (pending.size() >= kWriteBatch) flush();
            return true;
        },
        [&] {
            if (interrupted()) return false;
            progress.update(++scanned);
            return true;
        });
    if (!interrupted()) flush();
    progress.finish();
    ctx.report_store_messages(*store);
    if (interrupted()) {
        const std::uint64_t unwritten = pending.size();
        totals.matched -= unwritten;
        report(totals, args.dry_run, keys, ctx);
        ctx.error(fmt::format("interrupted; rekeyed {} (a rerun continues)", count_of(totals.rekeyed, "session")));
        return ExitCode::interrupted;
    }
    report(totals, args.dry_run, keys, ctx);
    if (!args.dry_run && totals.rekeyed < totals.matched) {
        ctx.error(
            fmt::format("{} of {} sessions changed after they were read (a live request rewrote or removed "
                        "them) and were skipped; run again to retry",
                        totals.matched - totals.rekeyed, totals.matched));
        return ExitCode::partial;
    }
    return ExitCode::ok;
}

}  // namespace sessionctl::cli
