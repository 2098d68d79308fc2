// sessionctl stats: what a store holds, in one streaming scan: totals by state
// and kind, the users with the most sessions, the size distribution of
// session_data and how soon sessions expire. Human output, --json (one
// object) or --prometheus (node_exporter textfile-collector format).
//
// Sessions are decoded on every core (cli/parallel_scan.hpp) and counted on
// the scanning thread, so memory stays flat whatever the size of the store.
// Only the per-user counts grow, with the number of distinct users (not
// sessions): one compact table.

#include <algorithm>
#include <array>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <optional>
#include <queue>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <variant>
#include <vector>

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include "backends/users/login_check.hpp"
#include "cli/commands.hpp"
#include "cli/interrupt.hpp"
#include "cli/parallel_scan.hpp"
#include "cli/progress.hpp"
#include "cli/pyvalue_json.hpp"
#include "cli/session_view.hpp"

namespace sessionctl::cli {

CLI::App* setup_stats(CLI::App& parent, StatsArgs& args) {
    CLI::App* cmd =
        parent.add_subcommand("stats", "Count stored sessions: live/expired, users, payload sizes, time to expiry");
    cmd->add_option("--top", args.top, "List the N users with the most stored sessions (default 10; 0: none)")
        ->type_name("N");
    cmd->add_flag("--prometheus", args.prometheus,
                  "Print Prometheus metrics (node_exporter textfile-collector format) instead");
    cmd->add_flag("--dead", args.dead,
                  "Also count the logins Django would no longer accept, by rule (reads the user table)");
    cmd->footer(R"(Every stored session is counted, expired ones included: live + expired = authenticated +
anonymous + undecodable = total. Authenticated: a verified session with an _auth_user_id;
undecodable: bad signature, malformed, or not a dict. Sizes are bytes of the stored
session_data; percentiles are nearest-rank (the median of an even count is the lower one).

EXAMPLES
  sessionctl stats
  sessionctl stats --top 3
  sessionctl --json stats | jq .expiry
  # cron, for node_exporter --collector.textfile.directory=/var/lib/node_exporter:
  sessionctl stats --prometheus > /var/lib/node_exporter/sessions.prom.$$ &&
    mv /var/lib/node_exporter/sessions.prom.$$ /var/lib/node_exporter/sessions.prom

JSON (one object)
  total, live, expired, authenticated, anonymous, undecodable, users (distinct ids),
  top_users [{user_id, sessions, live}], size {min, median, p90, p99, max, total},
  expiry {expired, lt_1h, lt_1d, lt_7d, lt_30d, later, unknown},
  verified_with {SECRET_KEY, SECRET_KEY_FALLBACKS[N]..., legacy, unverified[, not_signed]}
  (a fallback's count is what still depends on its signature: 0 means `rekey` is done with it),
  with --dead: dead {total, backend_removed, user_gone, user_inactive, password_changed})");
    return cmd;
}

namespace {

// Time to expiry (issue 6's histogram): expired, then under 1 hour, 1 day,
// 7 days, 30 days, later; unknown when the store keeps no readable expiry for
// a session it does not consider expired.
enum Bucket : std::size_t { expired_b, lt_1h, lt_1d, lt_7d, lt_30d, later, unknown, kBucketCount };
constexpr std::array<const char*, kBucketCount> kBucketNames = {"expired", "lt_1h", "lt_1d",  "lt_7d",
                                                                "lt_30d",  "later", "unknown"};
constexpr std::array<const char*, kBucketCount> kBucketLabels = {"expired",    "within 1h", "within 1d", "within 7d",
                                                                 "within 30d", "later",     "unknown"};

Bucket bucket_of(const SessionView& view, std::int64_t now_micros) {
    if (view.expired) return expired_b;
    if (!view.expire_unix_micros) return unknown;
    constexpr std::int64_t hour = 3600LL * 1'000'000;
    const std::int64_t left = *view.expire_unix_micros - now_micros;
    if (left < hour) return lt_1h;
    if (left < 24 * hour) return lt_1d;
    if (left < 7 * 24 * hour) return lt_7d;
    if (left < 30 * 24 * hour) return lt_30d;
    return later;
}

struct UserCount {
    std::uint32_t sessions = 0;
    std::uint32_t live = 0;
};

// A user id as Django stores it: str(pk). Canonical decimal ids (the usual
// AutoField) are kept as integers; anything else (UUIDs, usernames) as text.
std::optional<std::uint64_t> canonical_decimal(std::string_view id) {
    if (id.empty() || id.size() > 19 || (id.size() > 1 && id[0] == '0')) return std::nullopt;
    std::uint64_t value = 0;
    auto [end, ec] = std::from_chars(id.data(), id.data() + id.size(), value);
    if (ec != std::errc() || end != id.data() + id.size()) return std::nullopt;
    return value;
}

// Open addressing from a numeric user id below 2**32 - 1 (any AutoField
// primary key) to its counts: 12 bytes a slot, at most 70% full, where a
// node-based map takes about 56 bytes an entry. The slot key is id + 1, 0
// marking an empty slot.
class NumericUserCounts {
public:
    static constexpr std::uint64_t kLimit = 0xFFFFFFFFu;  // ids from here on are kept as text

    UserCount& operator[](std::uint32_t id) {
        if ((size_ + 1) * 10 > slots_.size() * 7) grow();
        Slot& slot = find(slots_, id + 1);
        if (slot.key == 0) {
            slot.key = id + 1;
            ++size_;
        }
        return slot.count;
    }
    [[nodiscard]] std::size_t size() const { return size_; }
    template <typename F>
    void for_each(F&& f) const {
        for (const Slot& slot : slots_)
            if (slot.key != 0) f(std::uint64_t{slot.key} - 1, slot.count);
    }

private:
    struct Slot {
        std::uint32_t key = 0;
        UserCount count;
    };
    static Slot& find(std::vector<Slot>& slots, std::uint32_t key) {
        const std::size_t mask = slots.size() - 1;
        std::size_t i = static_cast<std::size_t>((std::uint64_t{key} * 0x9E3779B97F4A7C15ULL) >> 24) & mask;
        while (slots[i].key != 0 && slots[i].key != key) i = (i + 1) & mask;
        return slots[i];
    }
    void grow() {
        std::vector<Slot> bigger(slots_.empty() ? 1024 : slots_.size() * 2);
        for (const Slot& slot : slots_)
            if (slot.key != 0) find(bigger, slot.key) = slot;
        slots_.swap(bigger);
    }
    std::vector<Slot> slots_;
    std::size_t size_ = 0;
};

// Sessions per user. One table, fed by the scanning thread: per-worker
// copies would multiply the one structure that grows with the store.
struct UserCounts {
    NumericUserCounts numeric;
    std::unordered_map<std::string, UserCount> other;

    void add(std::string_view id, bool live) {
        UserCount& c = count(id);
        ++c.sessions;
        if (live) ++c.live;
    }
    UserCount& count(std::string_view id) {
        if (auto n = canonical_decimal(id); n && *n < NumericUserCounts::kLimit)
            return numeric[static_cast<std::uint32_t>(*n)];
        return other[std::string(id)];
    }
    [[nodiscard]] std::uint64_t size() const { return numeric.size() + other.size(); }
};

// What a worker learns of one session: all the scanning thread counts.
struct Counted {
    enum Kind { undecodable, anonymous, authenticated };
    bool expired = false;
    Bucket bucket = unknown;
    std::size_t size = 0;
    Kind kind = undecodable;
    std::string user_id;  // when authenticated
    // The key whose signature verified it (0: SECRET_KEY, N: fallback N-1),
    // or one of the kinds below.
    std::ptrdiff_t verified_with = kUnverified;
    std::optional<DeadReason> dead;  // stats --dead

    static constexpr std::ptrdiff_t kUnverified = -1, kLegacy = -2, kNotSigned = -3;
};

std::ptrdiff_t verified_with_of(const DecodeResult& d) {
    if (!d.verified) return Counted::kUnverified;
    if (d.is_cache_value()) return Counted::kNotSigned;
    if (d.is_legacy()) return Counted::kLegacy;
    return static_cast<std::ptrdiff_t>(d.key_index.value_or(0));
}

Counted count_of_view(const SessionView& view, std::int64_t now_micros, const LoginChecker* dead) {
    Counted c;
    c.verified_with = verified_with_of(view.decoded);
    if (dead && view.dict())
        if (auto verdict = dead->check(*view.dict())) c.dead = verdict->dead;
    c.expired = view.expired;
    c.bucket = bucket_of(view, now_micros);
    c.size = view.size;
    if (!view.verified_dict) {
        c.kind = Counted::undecodable;
    } else if (!view.user_id) {
        c.kind = Counted::anonymous;
    } else {
        c.kind = Counted::authenticated;
        c.user_id = *view.user_id;
    }
    return c;
}

constexpr std::array<DeadReason, 4> kDeadReasons = {DeadReason::backend_removed, DeadReason::user_gone,
                                                    DeadReason::user_inactive, DeadReason::password_changed};
constexpr std::array<const char*, 4> kDeadNames = {"backend_removed", "user_gone", "user_inactive", "password_changed"};

// Everything but the users.
struct Tally {
    std::uint64_t total = 0, live = 0, expired = 0;
    std::uint64_t authenticated = 0, anonymous = 0, undecodable = 0;
    std::vector<std::uint64_t> by_key;  // SECRET_KEY, then each fallback
    std::uint64_t legacy = 0, unverified = 0, not_signed = 0;
    std::array<std::uint64_t, 4> dead{};  // by kDeadReasons
    std::array<std::uint64_t, kBucketCount> expiry{};
    std::unordered_map<std::size_t, std::uint64_t> sizes;  // bytes -> sessions (a few thousand sizes)
    std::uint64_t size_sum = 0;

    void add(const Counted& c) {
        ++total;
        ++(c.expired ? expired : live);
        ++expiry[c.bucket];
        ++sizes[c.size];
        size_sum += c.size;
        if (c.verified_with >= 0) {
            const auto index = static_cast<std::size_t>(c.verified_with);
            if (index >= by_key.size()) by_key.resize(index + 1);
            ++by_key[index];
        } else if (c.verified_with == Counted::kLegacy) {
            ++legacy;
        } else if (c.verified_with == Counted::kNotSigned) {
            ++not_signed;
        } else {
            ++unverified;
        }
        if (c.dead)
            ++dead[static_cast<std::size_t>(std::find(kDeadReasons.begin(), kDeadReasons.end(), *c.dead) -
                                            kDeadReasons.begin())];
        switch (c.kind) {
            case Counted::undecodable: ++undecodable; break;
            case Counted::anonymous: ++anonymous; break;
            case Counted::authenticated: ++authenticated; break;
        }
    }
};

// A user id for the top list: numeric ids order numerically, before other ids.
using UserId = std::variant<std::uint64_t, std::string>;
std::string user_text(const UserId& id) {
    if (const auto* n = std::get_if<std::uint64_t>(&id)) return std::to_string(*n);
    return std::get<std::string>(id);
}

struct TopUser {
    UserId id;
    UserCount count;
};

// Most sessions first; ties by id. A heap of N: memory does not grow with the users.
std::vector<TopUser> top_users(const UserCounts& users, std::size_t n) {
    auto before = [](const TopUser& a, const TopUser& b) {  // a ranks above b
        if (a.count.sessions != b.count.sessions) return a.count.sessions > b.count.sessions;
        return a.id < b.id;
    };
    std::priority_queue<TopUser, std::vector<TopUser>, decltype(before)> heap(before);  // worst on top
    auto offer = [&](UserId id, const UserCount& c) {
        if (n == 0) return;
        TopUser candidate{std::move(id), c};
        if (heap.size() < n) {
            heap.push(std::move(candidate));
        } else if (before(candidate, heap.top())) {
            heap.pop();
            heap.push(std::move(candidate));
        }
    };
    users.numeric.for_each([&](std::uint64_t id, const UserCount& c) { offer(id, c); });
    for (const auto& [id, c] : users.other) {
        if (auto n = canonical_decimal(id)) offer(*n, c);  // beyond 2**32: numeric all the same
        else offer(id, c);
    }
    std::vector<TopUser> out;
    while (!heap.empty()) {
        out.push_back(heap.top());
        heap.pop();
    }
    std::reverse(out.begin(), out.end());
    return out;
}

struct SizeSummary {
    std::size_t min = 0, median = 0, p90 = 0, p99 = 0, max = 0;
};

// Nearest-rank percentiles over the size histogram: the smallest size s such
// that at least p of the sessions are no larger than s.
std::optional<SizeSummary> size_summary(const Tally& t) {
    if (t.total == 0) return std::nullopt;
    std::vector<std::pair<std::size_t, std::uint64_t>> sorted(t.sizes.begin(), t.sizes.end());
    std::sort(sorted.begin(), sorted.end());
    auto at_rank = [&](std::uint64_t rank) {  // 1-based
        std::uint64_t seen = 0;
        for (const auto& [size, n] : sorted) {
            seen += n;
            if (seen >= rank) return size;
        }
        return sorted.back().first;
    };
    auto percentile = [&](std::uint64_t percent) {
        std::uint64_t rank = (percent * t.total + 99) / 100;  // ceil(p * n)
        return at_rank(std::max<std::uint64_t>(rank, 1));
    };
    return SizeSummary{sorted.front().first, percentile(50), percentile(90), percentile(99), sorted.back().first};
}

// ---- output

std::string percent(std::uint64_t part, std::uint64_t whole) {
    if (whole == 0) return "";
    return fmt::format("{:5.1f}%", 100.0 * static_cast<double>(part) / static_cast<double>(whole));
}

// "SECRET_KEY", "SECRET_KEY_FALLBACKS[0]"..., "legacy", "unverified" (and
// "not_signed" for the cache engine's pickles, when there are any).
std::vector<std::pair<std::string, std::uint64_t>> verified_with_counts(const Tally& t) {
    std::vector<std::pair<std::string, std::uint64_t>> out;
    for (std::size_t i = 0; i < t.by_key.size(); ++i)
        out.emplace_back(i == 0 ? std::string("SECRET_KEY") : fmt::format("SECRET_KEY_FALLBACKS[{}]", i - 1),
                         t.by_key[i]);
    out.emplace_back("legacy", t.legacy);
    out.emplace_back("unverified", t.unverified);
    if (t.not_signed) out.emplace_back("not_signed", t.not_signed);
    return out;
}

void print_human(std::ostream& out, const Tally& t, std::uint64_t users, const std::vector<TopUser>& top,
                 std::size_t asked_top, bool dead) {
    const std::size_t w = std::max<std::size_t>(7, std::to_string(t.total).size());
    auto line = [&](std::string_view label, std::uint64_t n, bool pct) {
        out << fmt::format("  {:<14} {:>{}}", label, n, w);
        if (pct && t.total) out << "  " << percent(n, t.total);
        out << '\n';
    };
    out << fmt::format("sessions         {:>{}}\n", t.total, w);
    line("live", t.live, true);
    line("expired", t.expired, true);
    line("authenticated", t.authenticated, true);
    line("anonymous", t.anonymous, true);
    line("undecodable", t.undecodable, true);

    out << fmt::format("\nusers            {:>{}}  with a stored session\n", users, w);
    if (asked_top > 0 && !top.empty()) {
        out << fmt::format("  top {:<10} {:>{}}  {:>{}}\n", top.size(), "sessions", w, "live", w);
        for (const auto& u : top)
            out << fmt::format("  {:<14} {:>{}}  {:>{}}\n", printable(user_text(u.id), 40), u.count.sessions, w,
                               u.count.live, w);
    }

    out << "\nsession_data size (bytes)\n";
    if (auto s = size_summary(t))
        out << fmt::format("  min {}  median {}  p90 {}  p99 {}  max {}  total {}\n", s->min, s->median, s->p90, s->p99,
                           s->max, t.size_sum);
    else out << "  no sessions\n";

    out << "\nexpiry\n";
    for (std::size_t b = 0; b < kBucketCount; ++b)
        if (b != unknown || t.expiry[b] > 0) line(kBucketLabels[b], t.expiry[b], false);

    out << "\nverified with\n";
    for (const auto& [name, n] : verified_with_counts(t)) out << fmt::format("  {:<24} {:>{}}\n", name, n, w);
    if (dead) {
        std::uint64_t total = 0;
        for (auto n : t.dead) total += n;
        out << fmt::format("\ndead logins      {:>{}}\n", total, w);
        for (std::size_t i = 0; i < kDeadReasons.size(); ++i) line(to_string(kDeadReasons[i]), t.dead[i], false);
    }
}

ordered_json stats_json(const Tally& t, std::uint64_t user_count, const std::vector<TopUser>& top, bool dead) {
    ordered_json j = ordered_json::object();
    j["total"] = t.total;
    j["live"] = t.live;
    j["expired"] = t.expired;
    j["authenticated"] = t.authenticated;
    j["anonymous"] = t.anonymous;
    j["undecodable"] = t.undecodable;
    j["users"] = user_count;
    ordered_json users = ordered_json::array();
    for (const auto& u : top) {
        ordered_json o = ordered_json::object();
        o["user_id"] = user_text(u.id);
        o["sessions"] = u.count.sessions;
        o["live"] = u.count.live;
        users.push_back(std::move(o));
    }
    j["top_users"] = std::move(users);
    ordered_json size = ordered_json::object();
    auto s = size_summary(t);
    for (auto [name, value] : {std::pair{"min", s ? s->min : 0},
                               {"median", s ? s->median : 0},
                               {"p90", s ? s->p90 : 0},
                               {"p99", s ? s->p99 : 0},
                               {"max", s ? s->max : 0}})
        size[name] = s ? ordered_json(value) : ordered_json();
    size["total"] = t.size_sum;
    j["size"] = std::move(size);
    ordered_json expiry = ordered_json::object();
    for (std::size_t b = 0; b < kBucketCount; ++b) expiry[kBucketNames[b]] = t.expiry[b];
    j["expiry"] = std::move(expiry);
    ordered_json verified = ordered_json::object();
    for (const auto& [name, n] : verified_with_counts(t)) verified[name] = n;
    j["verified_with"] = std::move(verified);
    if (dead) {
        ordered_json d = ordered_json::object();
        std::uint64_t total = 0;
        for (auto n : t.dead) total += n;
        d["total"] = total;
        for (std::size_t i = 0; i < kDeadNames.size(); ++i) d[kDeadNames[i]] = t.dead[i];
        j["dead"] = std::move(d);
    }
    return j;
}

// A label value of the text exposition format: backslash, double quote and
// line feed escaped; invalid UTF-8 made printable first.
std::string prometheus_label(std::string_view value) {
    std::string text = printable(value, 200);
    std::string out;
    out.reserve(text.size());
    for (char c : text) {
        if (c == '\\') out += "\\\\";
        else if (c == '"') out += "\\\"";
        else if (c == '\n') out += "\\n";
        else out += c;
    }
    return out;
}

void print_prometheus(std::ostream& out, const Tally& t, std::uint64_t users, const std::vector<TopUser>& top,
                      double scan_seconds, std::int64_t now_micros, bool dead) {
    auto family = [&](std::string_view name, std::string_view type, std::string_view help) {
        out << "# HELP " << name << ' ' << help << '\n' << "# TYPE " << name << ' ' << type << '\n';
    };
    family("sessionctl_sessions", "gauge", "Stored sessions by state: live or expired (not yet cleared).");
    out << "sessionctl_sessions{state=\"live\"} " << t.live << '\n';
    out << "sessionctl_sessions{state=\"expired\"} " << t.expired << '\n';

    family("sessionctl_sessions_by_kind", "gauge",
           "Stored sessions by kind: authenticated (verified, with a user id), anonymous (verified, no user id) "
           "or undecodable (bad signature, malformed, not a dict).");
    out << "sessionctl_sessions_by_kind{kind=\"authenticated\"} " << t.authenticated << '\n';
    out << "sessionctl_sessions_by_kind{kind=\"anonymous\"} " << t.anonymous << '\n';
    out << "sessionctl_sessions_by_kind{kind=\"undecodable\"} " << t.undecodable << '\n';

    family("sessionctl_sessions_by_expiry", "gauge",
           "Stored sessions by time left until they expire (buckets do not overlap).");
    for (std::size_t b = 0; b < kBucketCount; ++b)
        out << "sessionctl_sessions_by_expiry{expires_in=\"" << kBucketNames[b] << "\"} " << t.expiry[b] << '\n';

    family("sessionctl_sessions_by_key", "gauge",
           "Stored sessions by the secret that verifies their signature: SECRET_KEY, SECRET_KEY_FALLBACKS[N] (still "
           "needed while above 0; `sessionctl rekey` moves them), legacy formats, or unverified.");
    for (const auto& [name, n] : verified_with_counts(t))
        out << "sessionctl_sessions_by_key{verified_with=\"" << name << "\"} " << n << '\n';
    if (dead) {
        family("sessionctl_dead_logins", "gauge",
               "Stored logins Django would no longer accept, by the rule they break (stats --dead).");
        for (std::size_t i = 0; i < kDeadNames.size(); ++i)
            out << "sessionctl_dead_logins{reason=\"" << kDeadNames[i] << "\"} " << t.dead[i] << '\n';
    }

    family("sessionctl_users", "gauge", "Distinct user ids with at least one stored session.");
    out << "sessionctl_users " << users << '\n';

    if (!top.empty()) {
        family("sessionctl_user_sessions", "gauge", "Stored sessions of the users with the most (stats --top).");
        for (const auto& u : top)
            out << "sessionctl_user_sessions{user_id=\"" << prometheus_label(user_text(u.id)) << "\"} "
                << u.count.sessions << '\n';
    }

    family("sessionctl_session_data_bytes", "summary", "Size of the stored session_data, in bytes.");
    auto s = size_summary(t);
    auto value = [&](std::size_t v) { return s ? std::to_string(v) : std::string("NaN"); };
    out << "sessionctl_session_data_bytes{quantile=\"0\"} " << value(s ? s->min : 0) << '\n';
    out << "sessionctl_session_data_bytes{quantile=\"0.5\"} " << value(s ? s->median : 0) << '\n';
    out << "sessionctl_session_data_bytes{quantile=\"0.9\"} " << value(s ? s->p90 : 0) << '\n';
    out << "sessionctl_session_data_bytes{quantile=\"0.99\"} " << value(s ? s->p99 : 0) << '\n';
    out << "sessionctl_session_data_bytes{quantile=\"1\"} " << value(s ? s->max : 0) << '\n';
    out << "sessionctl_session_data_bytes_sum " << t.size_sum << '\n';
    out << "sessionctl_session_data_bytes_count " << t.total << '\n';

    family("sessionctl_stats_scan_seconds", "gauge", "How long the scan of the store took.");
    out << "sessionctl_stats_scan_seconds " << fmt::format("{:.3f}", scan_seconds) << '\n';
    family("sessionctl_stats_last_run_timestamp_seconds", "gauge", "When these figures were computed (Unix time).");
    out << "sessionctl_stats_last_run_timestamp_seconds " << fmt::format("{:.3f}", now_micros / 1e6) << '\n';
}

}  // namespace

ExitCode run_stats(const StatsArgs& args, Context& ctx) {
    if (args.prometheus && ctx.json()) throw UsageError("--json and --prometheus exclude each other");

    auto store = ctx.open_store(Access::read_only);
    std::optional<LoginChecker> dead;
    if (args.dead) dead.emplace(ctx.user_table(), ctx.config());
    const LoginChecker* checker = dead ? &*dead : nullptr;
    const DateTime now = store->environment().now();
    const std::int64_t now_micros = ctx.clock().now_micros();
    const auto started = std::chrono::steady_clock::now();

    InterruptGuard interrupt_guard;            // Ctrl-C stops the scan; nothing is printed on stdout
    Progress progress(ctx, "stats: scanned");  // a terminal stderr only
    std::uint64_t scanned = 0;
    Tally tally;
    // Every configured key is listed, 0 included: 0 is the answer to "can I drop it?".
    tally.by_key.resize(1 + ctx.config().secret_keys().fallbacks.size());
    UserCounts users;
    ParallelScan<Counted>::run(
        *store,
        [&](const StoredSession& record) {
            return count_of_view(view_session(record, *store, now), now_micros, checker);
        },
        [&](const StoredSession&, Counted& c) {
            tally.add(c);
            if (c.kind == Counted::authenticated) users.add(c.user_id, !c.expired);
            return true;
        },
        [&] {
            if (interrupted()) return false;
            progress.update(++scanned);
            return true;
        });
    progress.finish();
    ctx.report_store_messages(*store);
    if (interrupted()) {
        ctx.error(fmt::format("interrupted after scanning {}; no figures printed", count_of(scanned, "session")));
        return ExitCode::interrupted;
    }
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();

    const auto top = top_users(users, args.top);
    if (args.prometheus) print_prometheus(ctx.out(), tally, users.size(), top, seconds, now_micros, args.dead);
    else if (ctx.json()) ctx.out() << dump_json(stats_json(tally, users.size(), top, args.dead)) << '\n';
    else if (!ctx.quiet()) print_human(ctx.out(), tally, users.size(), top, args.top, args.dead);
    ctx.out().flush();
    return ExitCode::ok;
}

}  // namespace sessionctl::cli
