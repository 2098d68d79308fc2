#pragma once

// Time is injected: tests move a fake clock instead of sleeping.

#include <chrono>
#include <cstdint>

namespace sessionctl {

class Clock {
public:
    virtual ~Clock() = default;
    // Microseconds since the Unix epoch (UTC), like time.time() * 1e6.
    [[nodiscard]] virtual std::int64_t now_micros() const = 0;
    // int(time.time()): the signing timestamp.
    [[nodiscard]] std::int64_t now_seconds() const { return now_micros() / 1'000'000; }
    [[nodiscard]] double now_float() const { return static_cast<double>(now_micros()) / 1e6; }
};

class SystemClock final : public Clock {
public:
    [[nodiscard]] std::int64_t now_micros() const override {
        using namespace std::chrono;
        return duration_cast<microseconds>(system_clock::now().time_since_epoch()).count();
    }
};

class FakeClock final : public Clock {
public:
    explicit FakeClock(std::int64_t micros) : micros_(micros) {}
    [[nodiscard]] std::int64_t now_micros() const override { return micros_; }
    void set(std::int64_t micros) { micros_ = micros; }
    void advance_seconds(double seconds) { micros_ += static_cast<std::int64_t>(seconds * 1e6); }

private:
    std::int64_t micros_;
};

}  // namespace sessionctl
