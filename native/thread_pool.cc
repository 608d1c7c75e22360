// The persistent pool behind pool_run (see thread_pool.h).
#include "thread_pool.h"

#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <thread>
#include <vector>

namespace halo {
namespace {

struct Pool {
  std::mutex caller;  // one product at a time: JS worker threads may call kernels concurrently
  std::mutex mu;
  std::condition_variable start, done;
  const std::function<void(int)>* job = nullptr;
  int job_n = 0;
  unsigned long generation = 0;
  int pending = 0;
  int size = 1;

  Pool() {
    unsigned hc = std::thread::hardware_concurrency();
    size = hc == 0 ? 1 : static_cast<int>(hc);
    if (const char* env = std::getenv("HALO_EHR_THREADS")) {
      int v = std::atoi(env);
      if (v >= 1) size = v;
    }
    if (size > 64) size = 64;
    for (int t = 1; t < size; t++) std::thread([this, t] { worker(t); }).detach();
  }

  void worker(int t) {
    unsigned long seen = 0;
    for (;;) {
      const std::function<void(int)>* fn;
      {
        std::unique_lock<std::mutex> lock(mu);
        start.wait(lock, [&] { return generation != seen; });
        seen = generation;
        if (t >= job_n) continue;
        fn = job;
      }
      (*fn)(t);
      std::lock_guard<std::mutex> lock(mu);
      if (--pending == 0) done.notify_one();
    }
  }

  void run(int n, const std::function<void(int)>& fn) {
    if (n > size) n = size;
    if (n <= 1) {
      fn(0);
      return;
    }
    std::lock_guard<std::mutex> serial(caller);
    {
      std::lock_guard<std::mutex> lock(mu);
      job = &fn;
      job_n = n;
      pending = n - 1;
      generation++;
    }
    start.notify_all();
    fn(0);
    std::unique_lock<std::mutex> lock(mu);
    done.wait(lock, [&] { return pending == 0; });
  }
};

// Leaked on purpose: destroying it at exit would have to join threads that may be asleep forever.
Pool& pool() {
  static Pool* p = new Pool();
  return *p;
}

}  // namespace

int pool_size() { return pool().size; }

void pool_run(int n, const std::function<void(int)>& fn) { pool().run(n, fn); }

}  // namespace halo
