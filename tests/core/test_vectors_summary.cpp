// Prints how many Django vector cases the run checked (and which were skipped,
// with the reason), after the last test: a Catch2 listener, so the line appears
// whatever the test filter, e.g. `sessionctl_tests "[vectors]"`.

#define CATCH_CONFIG_EXTERNAL_INTERFACES
#include <catch2/catch.hpp>

#include <cstdio>
#include <string>

#include "tests/support/vector_support.hpp"

namespace {

class VectorSummary final : public Catch::TestEventListenerBase {
public:
    using Catch::TestEventListenerBase::TestEventListenerBase;

    void testRunEnded(const Catch::TestRunStats& stats) override {
        const vectors::Tally& t = vectors::tally();
        if (t.checked.empty() && t.skipped.empty()) return;  // no vector test ran
        std::size_t total = 0;
        std::string parts;
        for (const auto& file : vectors::summary_order()) {
            auto it = t.checked.find(file);
            std::size_t n = it == t.checked.end() ? 0 : it->second;
            total += n;
            if (!parts.empty()) parts += ", ";
            parts += file + " " + std::to_string(n);
        }
        std::size_t skipped = 0;
        for (const auto& [file, n] : t.skipped) skipped += n;
        std::printf("vectors: %zu cases checked (%s); %zu skipped\n", total, parts.c_str(), skipped);
        for (const auto& reason : t.skip_reasons) std::printf("vectors: skipped %s\n", reason.c_str());
        std::fflush(stdout);
        Catch::TestEventListenerBase::testRunEnded(stats);
    }
};

}  // namespace

CATCH_REGISTER_LISTENER(VectorSummary)
