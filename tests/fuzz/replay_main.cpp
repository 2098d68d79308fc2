// Replays saved fuzz inputs without libFuzzer: a main() that feeds every file
// of the given directories (and any files named directly) to the target's
// LLVMFuzzerTestOneInput. Each input runs in a forked child, so that an input
// that aborts, traps or trips a sanitizer is reported by name and the rest
// still run; --no-fork runs them in this process (for a debugger).
//
//   replay_fuzz_json [--no-fork] [--timeout SECONDS] DIR_OR_FILE...
//
// Prints "fuzz_replay: <target> N inputs", a FAILED line per failing input and
// finally "N passed, M failed". Exits 1 on any failure or when there was no
// input at all (a missing corpus must not pass silently). Files whose name
// starts with '.' (such as .gitkeep) and README files are skipped.

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#ifndef FUZZ_TARGET_NAME
#define FUZZ_TARGET_NAME "fuzz_target"
#endif

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

namespace {

namespace fs = std::filesystem;

bool skipped(const fs::path& p) {
    const std::string name = p.filename().string();
    return name.empty() || name[0] == '.' || name.rfind("README", 0) == 0;
}

std::vector<char> read_all(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    if (!in) {
        std::fprintf(stderr, "fuzz_replay: cannot read %s\n", p.c_str());
        std::exit(1);
    }
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// 0 when the input passed, else a description of the failure.
std::string run_one(const fs::path& p, bool fork_each, unsigned timeout) {
    if (!fork_each) {
        const std::vector<char> bytes = read_all(p);
        const int rc = LLVMFuzzerTestOneInput(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
        return rc == 0 || rc == -1 ? "" : "returned " + std::to_string(rc);
    }
    std::fflush(nullptr);
    const pid_t pid = ::fork();
    if (pid < 0) return std::string("fork failed: ") + std::strerror(errno);
    if (pid == 0) {
        ::alarm(timeout);
        const std::vector<char> bytes = read_all(p);
        const int rc = LLVMFuzzerTestOneInput(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
        std::fflush(nullptr);
        ::_exit(rc == 0 || rc == -1 ? 0 : 3);
    }
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) return std::string("waitpid failed: ") + std::strerror(errno);
    if (WIFSIGNALED(status)) {
        const int sig = WTERMSIG(status);
        if (sig == SIGALRM) return "timed out after " + std::to_string(timeout) + " s";
        return "killed by signal " + std::to_string(sig) + " (" + strsignal(sig) + ")";
    }
    if (WEXITSTATUS(status) == 3) return "LLVMFuzzerTestOneInput returned a value other than 0 or -1";
    if (WEXITSTATUS(status) != 0)
        return "exited with " + std::to_string(WEXITSTATUS(status)) + " (see the report above)";
    return "";
}

}  // namespace

int main(int argc, char** argv) {
    bool fork_each = true;
    unsigned timeout = 60;
    std::vector<fs::path> inputs;
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        if (arg == "--no-fork") {
            fork_each = false;
        } else if (arg == "--timeout" && i + 1 < argc) {
            timeout = static_cast<unsigned>(std::strtoul(argv[++i], nullptr, 10));
        } else if (arg == "-h" || arg == "--help") {
            std::printf("usage: %s [--no-fork] [--timeout SECONDS] DIR_OR_FILE...\n", argv[0]);
            return 0;
        } else {
            std::error_code ec;
            const fs::path p(arg);
            if (fs::is_directory(p, ec)) {
                std::vector<fs::path> files;
                for (const auto& entry : fs::directory_iterator(p))
                    if (entry.is_regular_file() && !skipped(entry.path())) files.push_back(entry.path());
                std::sort(files.begin(), files.end());
                inputs.insert(inputs.end(), files.begin(), files.end());
            } else if (fs::is_regular_file(p, ec)) {
                inputs.push_back(p);
            } else {
                std::fprintf(stderr, "fuzz_replay: %s: no such file or directory\n", arg.c_str());
                return 1;
            }
        }
    }
    std::printf("fuzz_replay: %s %zu inputs\n", FUZZ_TARGET_NAME, inputs.size());
    std::size_t passed = 0, failed = 0;
    for (const auto& p : inputs) {
        const std::string failure = run_one(p, fork_each, timeout);
        if (failure.empty()) {
            ++passed;
        } else {
            ++failed;
            std::printf("FAILED %s: %s\n", p.c_str(), failure.c_str());
        }
    }
    std::printf("%zu passed, %zu failed\n", passed, failed);
    std::fflush(stdout);
    return failed == 0 && !inputs.empty() ? 0 : 1;
}
