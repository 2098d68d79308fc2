#include "cli/interrupt.hpp"

#include <csignal>

#include <signal.h>

namespace sessionctl::cli {
namespace {

volatile std::sig_atomic_t g_interrupted = 0;

extern "C" void on_sigint(int) { g_interrupted = 1; }

}  // namespace

struct InterruptGuard::Saved {
    struct sigaction previous {};
    bool installed = false;
};

bool interrupted() { return g_interrupted != 0; }

InterruptGuard::InterruptGuard() : saved_(std::make_unique<Saved>()) {
    g_interrupted = 0;
    struct sigaction action {};
    action.sa_handler = on_sigint;
    sigemptyset(&action.sa_mask);
    action.sa_flags = 0;
    saved_->installed = ::sigaction(SIGINT, &action, &saved_->previous) == 0;
}

InterruptGuard::~InterruptGuard() {
    if (saved_->installed) ::sigaction(SIGINT, &saved_->previous, nullptr);
}

}  // namespace sessionctl::cli
