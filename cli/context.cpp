#include "cli/context.hpp"

#include <sys/stat.h>

#include <chrono>
#include <cstdlib>
#include <ctime>
#include <ostream>

#include <fmt/format.h>

#include "backends/users/login_check.hpp"
#include "core/time_zone.hpp"

namespace sessionctl::cli {

Context::Context(GlobalOptions options, Io io, std::shared_ptr<const Clock> clock, RaceHook race_hook)
    : options_(std::move(options)),
      io_(io),
      clock_(clock ? std::move(clock) : std::make_shared<SystemClock>()),
      race_hook_(std::move(race_hook)) {}

void apply_time_zone(const Config& config) {
    if (config.use_tz()) return;
    std::string zone = config.time_zone();
    if (zone.empty()) return;
    // Django: if the zoneinfo root exists, TIME_ZONE must name a file in it.
    const std::string root = zoneinfo_root();
    struct stat st {};
    if (::stat(root.c_str(), &st) == 0 && (zone.find("..") != std::string::npos || zone.front() == '/' ||
                                           ::stat((root + "/" + zone).c_str(), &st) != 0 || !S_ISREG(st.st_mode)))
        throw ConfigError(fmt::format("Incorrect timezone setting: TIME_ZONE '{}' is not in {}", zone, root));
    ::setenv("TZ", zone.c_str(), 1);
    ::tzset();
}

const Config& Context::config() {
    if (!config_) {
        ConfigSources sources;
        sources.config_path = options_.config_path;
        sources.overrides = options_.overrides;
        sources.engine = options_.engine;
        Config loaded = Config::load(sources);
        apply_time_zone(loaded);
        config_ = std::move(loaded);
        for (const auto& w : config_->warnings()) warn(w);
    }
    return *config_;
}

std::shared_ptr<const SessionEnvironment> Context::environment(SecretUse use) {
    const Config& cfg = config();
    if (use == SecretUse::required && env_ && !env_has_secret_) env_.reset();
    if (!env_) {
        SecretKeys keys;
        // Without a secret nothing can be signed or verified; such an
        // environment is only handed to commands that do neither.
        if (use == SecretUse::required || cfg.has_secret()) keys = cfg.secret_keys();
        env_has_secret_ = cfg.has_secret();
        env_ = SessionEnvironment::make(cfg.session_settings(), std::move(keys), clock_);
    }
    return env_;
}

std::unique_ptr<Store> Context::open_store(Access access, SecretUse use) {
    auto env = environment(use);
    StoreOptions store_options;
    store_options.access = access;
    return sessionctl::open_store(config(), std::move(env), store_options);
}

void Context::scrub_also(const SecretKeys& keys) {
    extra_secrets_.push_back(keys.secret_key);
    extra_secrets_.insert(extra_secrets_.end(), keys.fallbacks.begin(), keys.fallbacks.end());
}

const UserTable& Context::user_table() {
    if (!users_) {
        const Config& cfg = config();
        auto source = open_user_source(cfg);
        const auto started = std::chrono::steady_clock::now();
        users_ = UserTable::load(*source, auth_hash_options(cfg));
        const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
        note(fmt::format("read {} users from {} in {:.2f}s ({:.1f} MiB)", users_->size(), source->describe(), seconds,
                         static_cast<double>(users_->memory_bytes()) / (1 << 20)));
    }
    return *users_;
}

std::string Context::scrub(std::string message) const {
    std::vector<const std::string*> secrets;
    for (const auto& s : extra_secrets_) secrets.push_back(&s);
    if (config_ && config_->has_secret()) {
        const SecretKeys& keys = config_->secret_keys();
        secrets.push_back(&keys.secret_key);
        for (const auto& f : keys.fallbacks) secrets.push_back(&f);
    }
    for (const std::string* secret : secrets) {
        if (secret->size() < 6) continue;  // too short to tell from ordinary text
        for (auto pos = message.find(*secret); pos != std::string::npos; pos = message.find(*secret, pos + 8))
            message.replace(pos, secret->size(), "********");
    }
    return message;
}

void Context::report_store_messages(Store& store) {
    for (const auto& message : store.take_messages()) {
        if (message.level == StoreMessage::Level::warning) warn(message.text);
        else note(message.text);
    }
}

void Context::warn(std::string_view message) {
    if (!options_.quiet) print_warning(io_.err, message);
}

void Context::note(std::string_view message) {
    if (options_.verbose > 0 && !options_.quiet) {
        io_.err << "sessionctl: " << message << '\n';
        io_.err.flush();
    }
}

}  // namespace sessionctl::cli
