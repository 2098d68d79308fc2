// Fuzz target: the config file reader. The input is written to a private
// temporary file and loaded with Config::load; then every accessor the CLI
// calls is used. Config documents ConfigError only (a usage or configuration
// problem, exit 2): any other exception escapes and is a crash.
//
// Invariant: no ConfigError message contains the text of a SECRET_KEY value
// (the message names the key or the file, never a secret).

#include <fcntl.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "core/config.hpp"
#include "tests/fuzz/fuzz_support.hpp"

namespace {

// The SECRET_KEY value of the input when a leak of it could be told apart:
// a string of at least 16 bytes that occurs once in the raw text (so no key
// name or other value can carry it into a message) and no escapes.
std::string traceable_secret(std::string_view text) {
    if (text.find('\\') != std::string_view::npos) return {};
    auto doc = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (!doc.is_object() || !doc.contains("SECRET_KEY") || !doc["SECRET_KEY"].is_string()) return {};
    std::string secret = doc["SECRET_KEY"].get<std::string>();
    if (secret.size() < 16) return {};
    auto first = text.find(secret);
    if (first == std::string_view::npos || text.find(secret, first + 1) != std::string_view::npos) return {};
    return secret;
}

// The one temp file this process rewrites for every input.
class ConfigFile {
public:
    ConfigFile() {
        const char* tmp = std::getenv("TMPDIR");
        path_ = std::string(tmp && *tmp ? tmp : "/tmp") + "/sessionctl-fuzz-config-XXXXXX";
        fd_ = ::mkstemp(path_.data());
        if (fd_ < 0) {
            std::perror("mkstemp");
            std::abort();
        }
    }
    ~ConfigFile() {
        ::close(fd_);
        ::unlink(path_.c_str());
    }
    ConfigFile(const ConfigFile&) = delete;
    ConfigFile& operator=(const ConfigFile&) = delete;

    void write(const std::uint8_t* data, std::size_t size) {
        if (::ftruncate(fd_, 0) != 0 || ::pwrite(fd_, data, size, 0) != static_cast<ssize_t>(size)) {
            std::perror("writing the config file");
            std::abort();
        }
    }
    const std::string& path() const { return path_; }

private:
    std::string path_;
    int fd_ = -1;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace sessionctl;
    static ConfigFile file;
    static const bool env_cleared = [] {
        // The secret must come from the file under test, not the caller's environment.
        ::unsetenv("SESSIONCTL_SECRET_KEY");
        return true;
    }();
    (void)env_cleared;
    file.write(data, size);
    const std::string secret = traceable_secret(std::string_view(reinterpret_cast<const char*>(data), size));

    ConfigSources sources;
    sources.config_path = file.path();
    try {
        Config config = Config::load(sources);
        (void)config.session_engine();
        (void)config.cookie_name();
        (void)config.use_tz();
        (void)config.time_zone();
        for (const auto& w : config.warnings()) FUZZ_CHECK(secret.empty() || w.find(secret) == std::string::npos);
        for (const auto& key : Config::known_keys()) {
            (void)config.get(key);
            (void)config.origin(key);
        }
        (void)config.session_settings();
        (void)config.database();
        (void)config.secret_keys();
    } catch (const ConfigError& e) {
        const std::string message = e.what();
        FUZZ_CHECK(secret.empty() || message.find(secret) == std::string::npos);
    }
    return 0;
}
