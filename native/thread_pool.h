// A small persistent thread pool: the kernels split work into one slice per thread and the
// calling (JS main) thread computes slice 0 itself. Threads are started once and never joined:
// they sleep on a condition variable between calls and die with the process.
#pragma once
#include <functional>

namespace halo {

// Number of threads kernels may use (hardware concurrency, or HALO_EHR_THREADS when set).
int pool_size();

// Runs fn(t) for t in [0, n) on n threads (n is clamped to pool_size()) and returns when all are done.
void pool_run(int n, const std::function<void(int)>& fn);

// Splits [0, total) into n contiguous parts of near-equal size: part t is [split_begin(t), split_begin(t+1)).
inline long split_begin(long total, int n, int t) { return total * t / n; }

}  // namespace halo
