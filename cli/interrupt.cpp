#include "cli/interrupt.hpp"

#include <csignal>

#include <signal.h>

namespace sessionctl::cli {
namespace {

// 0, or the signal that arrived.
volatile std::sig_atomic_t g_signal = 0;

extern "C" void on_signal(int sig) { g_signal = sig; }

constexpr int kSignals[] = {SIGINT, SIGTERM};

}  // namespace

struct InterruptGuard::Saved {
    struct sigaction previous[2]{};
    bool installed[2] = {false, false};
};

bool interrupted() { return g_signal != 0; }

ExitCode interrupted_exit_code() { return g_signal == SIGTERM ? ExitCode::terminated : ExitCode::interrupted; }

InterruptGuard::InterruptGuard() : saved_(std::make_unique<Saved>()) {
    g_signal = 0;
    struct sigaction action {};
    action.sa_handler = on_signal;
    sigemptyset(&action.sa_mask);
    action.sa_flags = 0;
    for (int i = 0; i < 2; ++i) saved_->installed[i] = ::sigaction(kSignals[i], &action, &saved_->previous[i]) == 0;
}

InterruptGuard::~InterruptGuard() {
    for (int i = 0; i < 2; ++i)
        if (saved_->installed[i]) ::sigaction(kSignals[i], &saved_->previous[i], nullptr);
}

}  // namespace sessionctl::cli
