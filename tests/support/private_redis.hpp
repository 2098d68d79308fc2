#pragma once

// A redis-server of a test's own on a free loopback port, killed at the end
// (or on purpose): for fault tests that stop a server, and for servers set up
// in a way the shared ones are not (TLS with a bad certificate, replicas).

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <catch2/catch.hpp>

#include "tests/support/test_support.hpp"

extern char** environ;

namespace sessionctl::testing {

inline int free_port() {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    REQUIRE(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    socklen_t len = sizeof addr;
    getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    int port = ntohs(addr.sin_port);
    close(fd);
    return port;
}

inline bool have_redis_server() { return std::system("command -v redis-server >/dev/null 2>&1") == 0; }

class PrivateRedis {
public:
    enum class Mode { plain, tls_only };

    // `extra` are more redis-server arguments; with Mode::tls_only the port is
    // its --tls-port (and --port 0), and `extra` must name the certificates.
    explicit PrivateRedis(const std::vector<std::string>& extra = {}, Mode mode = Mode::plain) : port_(free_port()) {
        std::vector<std::string> args = {"redis-server", "--bind", "127.0.0.1",         "--save", "", "--appendonly",
                                         "no",           "--dir",  dir_.path().string()};
        if (mode == Mode::tls_only) args.insert(args.end(), {"--port", "0", "--tls-port", std::to_string(port_)});
        else args.insert(args.end(), {"--port", std::to_string(port_)});
        args.insert(args.end(), extra.begin(), extra.end());
        std::vector<char*> argv;
        for (auto& a : args) argv.push_back(a.data());
        argv.push_back(nullptr);
        posix_spawn_file_actions_t actions;
        posix_spawn_file_actions_init(&actions);
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
        int rc = posix_spawnp(&pid_, "redis-server", &actions, nullptr, argv.data(), environ);
        posix_spawn_file_actions_destroy(&actions);
        REQUIRE(rc == 0);
        for (int i = 0; i < 200; ++i) {  // up to 4 s for it to listen
            int fd = socket(AF_INET, SOCK_STREAM, 0);
            sockaddr_in addr{};
            addr.sin_family = AF_INET;
            addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
            addr.sin_port = htons(static_cast<std::uint16_t>(port_));
            bool up = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
            close(fd);
            if (up) return;
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
        FAIL("private redis-server did not start");
    }
    ~PrivateRedis() { stop(); }
    PrivateRedis(const PrivateRedis&) = delete;
    PrivateRedis& operator=(const PrivateRedis&) = delete;

    void stop() {
        if (pid_ <= 0) return;
        kill(pid_, SIGKILL);
        waitpid(pid_, nullptr, 0);
        pid_ = -1;
    }
    [[nodiscard]] std::string url() const { return fmt::format("redis://127.0.0.1:{}", port_); }
    [[nodiscard]] int port() const { return port_; }

private:
    TempDir dir_{"sessionctl-redis"};
    int port_;
    pid_t pid_ = -1;
};

// A redis-sentinel of a test's own monitoring `service` at 127.0.0.1:primary_port
// (quorum 1, short timeouts so a failover takes about a second).
class PrivateSentinel {
public:
    // `port_lines` replaces "port N" (for a TLS-only sentinel: "port 0\ntls-port N\n..."
    // with {port} standing for its port).
    PrivateSentinel(const std::string& service, int primary_port, const std::string& port_lines = "port {port}")
        : port_(free_port()) {
        const std::string conf = (dir_.path() / "sentinel.conf").string();
        const std::string text = fmt::format(
            "{}\nbind 127.0.0.1\ndir {}\nsentinel monitor {} 127.0.0.1 {} 1\n"
            "sentinel down-after-milliseconds {} 1000\nsentinel failover-timeout {} 4000\n",
            fmt::format(fmt::runtime(port_lines), fmt::arg("port", port_)), dir_.path().string(), service, primary_port,
            service, service);
        FILE* f = std::fopen(conf.c_str(), "w");
        REQUIRE(f);
        std::fputs(text.c_str(), f);
        std::fclose(f);
        std::vector<std::string> args = {"redis-sentinel", conf};
        std::vector<char*> argv;
        for (auto& a : args) argv.push_back(a.data());
        argv.push_back(nullptr);
        posix_spawn_file_actions_t actions;
        posix_spawn_file_actions_init(&actions);
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
        REQUIRE(posix_spawnp(&pid_, "redis-sentinel", &actions, nullptr, argv.data(), environ) == 0);
        posix_spawn_file_actions_destroy(&actions);
    }
    ~PrivateSentinel() { stop(); }
    PrivateSentinel(const PrivateSentinel&) = delete;
    PrivateSentinel& operator=(const PrivateSentinel&) = delete;

    void stop() {
        if (pid_ <= 0) return;
        kill(pid_, SIGKILL);
        waitpid(pid_, nullptr, 0);
        pid_ = -1;
    }
    [[nodiscard]] int port() const { return port_; }

private:
    TempDir dir_{"sessionctl-sentinel"};
    int port_;
    pid_t pid_ = -1;
};

// What `redis-cli -p PORT ARGS...` prints ("" when it fails).
inline std::string redis_cli(int port, const std::string& args) {
    std::string out;
    FILE* p = popen(fmt::format("redis-cli -p {} {} 2>/dev/null", port, args).c_str(), "r");
    if (!p) return out;
    char buffer[4096];
    while (std::size_t n = std::fread(buffer, 1, sizeof buffer, p)) out.append(buffer, n);
    pclose(p);
    return out;
}

// Polls `ready` every 50 ms for up to `seconds`.
template <class Ready>
bool eventually(Ready ready, int seconds = 20) {
    for (int i = 0; i < seconds * 20; ++i) {
        if (ready()) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
}

}  // namespace sessionctl::testing
