#pragma once

// A store scan that decodes on every core and still answers in scan order.
//
// A store connection is not shared between threads, so the calling thread
// reads the store (Store::scan) and copies rows into batches; worker threads
// run `examine` on each row of a batch (decode, verify, match, render: the
// expensive part, free of side effects); the calling thread then takes the
// batches back in the order they were read and runs `take` on each row with
// its result (print, count, collect). A fixed ring of batches bounds the
// rows in flight, so memory stays flat however large the store is, and the
// rows keep their strings' capacity when reused. The pipeline is
// util/ordered_pipeline.hpp's, run through Store::scan_examined(): a store
// that reads its rows on worker threads anyway (the file engine) runs
// `examine` there instead of feeding a second pipeline.
//
// Failures stay deterministic: an exception thrown by `examine` reaches the
// caller when its row's turn to be taken comes, as if the scan had been
// sequential; one thrown by `take` or by the store ends the scan and is
// rethrown once the workers have stopped.

#include <cstddef>
#include <functional>
#include <memory>
#include <thread>
#include <type_traits>
#include <utility>

#include "backends/store.hpp"
#include "util/ordered_pipeline.hpp"

namespace sessionctl::cli {

// What the caller needs of each row: everything (Store::scan), or only the
// key and data (Store::scan_key_and_data).
using sessionctl::ScanScope;

// Decoding workers for a scan: one per core.
[[nodiscard]] inline std::size_t scan_worker_count() {
    const unsigned n = std::thread::hardware_concurrency();
    return n == 0 ? 1 : n;
}

template <typename Result>
class ParallelScan {
public:
    // On a worker thread: must only read shared state.
    using Examine = std::function<Result(const StoredSession&)>;
    // On the calling thread, in scan order; false ends the scan.
    using Take = std::function<bool(const StoredSession&, Result&)>;
    // On the calling thread once per row, before its take (Ctrl-C, progress); false ends the
    // scan, and every row it let through is taken.
    using Before = std::function<bool()>;

    static constexpr std::size_t kBatchRows = kOrderedBatchItems;

    // Scans `store` to its end (or until `before` or `take` says stop).
    static void run(Store& store, Examine examine, Take take, Before before = {},
                    std::size_t workers = scan_worker_count(), ScanScope scope = ScanScope::everything) {
        // The result travels from the worker to the calling thread inside
        // the step (a std::function, hence copyable).
        store.scan_examined(
            scope, workers,
            [&](const StoredSession& row) -> ScanStep {
                if constexpr (std::is_copy_constructible_v<Result>) {
                    return [&take, result = examine(row)](const StoredSession& taken) mutable {
                        return take(taken, result);
                    };
                } else {
                    return [&take, result = std::make_shared<Result>(examine(row))](const StoredSession& taken) {
                        return take(taken, *result);
                    };
                }
            },
            before);
    }
};

}  // namespace sessionctl::cli
