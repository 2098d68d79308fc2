#pragma once

// What every command shares in one run: the global options, the streams, and
// (loaded on first use) the configuration, the session environment and the
// store. Loading is lazy so `--help`, `decode --no-verify` and `config` never
// open a store they do not need.

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "backends/registry.hpp"
#include "backends/users/user_table.hpp"
#include "cli/key_input.hpp"
#include "cli/output.hpp"
#include "core/clock.hpp"
#include "core/config.hpp"
#include "core/session_base.hpp"

namespace sessionctl::cli {

struct GlobalOptions {
    std::optional<std::string> config_path;  // --config
    std::optional<std::string> engine;       // --engine
    std::vector<std::string> overrides;      // --set KEY=VALUE...
    bool json = false;                       // --json
    bool quiet = false;                      // -q
    int verbose = 0;                         // -v (repeatable)
};

// Whether a command signs or verifies session data.
enum class SecretUse {
    required,  // decode, sign: no configured secret is a ConfigError
    none,      // clearsessions, delete by key: works without one
};

class Context {
public:
    // Test seam: called at the points where a concurrent request could
    // change the store under a command ("delete: before remove" between the
    // scan and the conditional delete, "expire: before open" between reading
    // a record and loading it to save), with the key when there is one.
    using RaceHook = std::function<void(std::string_view point, std::string_view key)>;

    // clock: nullptr for the system clock.
    Context(GlobalOptions options, Io io, std::shared_ptr<const Clock> clock = nullptr, RaceHook race_hook = {});

    [[nodiscard]] const GlobalOptions& options() const { return options_; }
    [[nodiscard]] Io& io() { return io_; }
    [[nodiscard]] std::ostream& out() { return io_.out; }
    [[nodiscard]] bool json() const { return options_.json; }
    [[nodiscard]] bool quiet() const { return options_.quiet; }
    [[nodiscard]] int verbose() const { return options_.verbose; }
    [[nodiscard]] const Clock& clock() const { return *clock_; }

    // Config::load on first use. With USE_TZ false it also sets TZ to TIME_ZONE
    // (as Django does at startup) before anything reads the time; warnings
    // print once (unless -q).
    [[nodiscard]] const Config& config();
    [[nodiscard]] KeyRule key_rule() { return key_rule_for_engine(config().session_engine()); }

    // The settings, codec and clock sessions are built with.
    [[nodiscard]] std::shared_ptr<const SessionEnvironment> environment(SecretUse use = SecretUse::required);
    // open_store() for this configuration.
    [[nodiscard]] std::unique_ptr<Store> open_store(Access access, SecretUse use = SecretUse::required);

    // The user table (AUTH_USER_MODEL in DATABASES), read on first use with
    // every key a session's _auth_user_hash may be made with (--dead, rekey).
    [[nodiscard]] const UserTable& user_table();

    // `message` with every configured secret (once loaded) replaced by
    // ********: the last line of defence behind "errors never include them".
    [[nodiscard]] std::string scrub(std::string message) const;

    // scrub() also hides these (another store's secrets: copy --to).
    void scrub_also(const SecretKeys& keys);

    void race_point(std::string_view point, std::string_view key = {}) const {
        if (race_hook_) race_hook_(point, key);
    }

    // What a store had to say (Store::take_messages): warnings (the file
    // engine's unreadable files during a sweep) unless -q, notes (a custom
    // session model's extra columns) with -v.
    void report_store_messages(Store& store);

    // Diagnostics on stderr. warn/info respect -q; error never does.
    void error(std::string_view message) { print_error(io_.err, message); }
    void warn(std::string_view message);
    // A line on stderr for -v (and not with -q).
    void note(std::string_view message);

private:
    GlobalOptions options_;
    Io io_;
    std::shared_ptr<const Clock> clock_;
    RaceHook race_hook_;
    std::optional<Config> config_;
    std::shared_ptr<const SessionEnvironment> env_;
    bool env_has_secret_ = false;
    std::vector<std::string> extra_secrets_;
    std::optional<UserTable> users_;
};

// The time zone step of Django's settings setup when USE_TZ is false: TZ =
// TIME_ZONE and tzset(). Throws ConfigError for a TIME_ZONE that the zoneinfo
// database does not know (Django's "Incorrect timezone setting").
void apply_time_zone(const Config& config);

}  // namespace sessionctl::cli
