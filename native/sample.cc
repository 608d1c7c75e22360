// madeSampleRow: fills one visit row of B records token by token through HALO's masked two-layer
// head (HALO.md section 4), at the cost of about one pass of the head instead of V passes.
// Threads split the records; each keeps relu(a1) of its records as entries become final.
#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels.h"
#include "thread_pool.h"

namespace halo {

// Token j's logit is layer-2 output o = d-1+j and needs relu(a1[0..o]). Setting token j' adds
// column d+j' of W1 to a1[o'] for o' >= d+j'; only a1[o] is needed at step j, so the column
// additions are applied lazily, row by row: at step j, a1[o] += W1[o][d+j'] for every token j'
// already set (all have d+j' <= o). That reads row o of W1 (shared by all records, in cache)
// instead of walking a column across D rows per set token, and adds in the same order as the
// eager update. Row D-1, which no step reads, is brought up to date at the end.
void madeSampleRow(float* x, float* probs, float* a1, const float* W1p, const float* W2p, const float* b2,
                   const float* uniforms, const int8_t* fixed, long B, long d, long V) {
  const long D = d + V;
  const auto tri = [](long o) { return o * (o + 1) / 2; };
  const int n = static_cast<int>(std::max(1L, std::min<long>(pool_size(), B)));
  pool_run(n, [&](int t) {
    const long b0 = split_begin(B, n, t), nb = split_begin(B, n, t + 1) - b0;
    std::vector<float> h1(static_cast<size_t>(nb) * D);     // relu(a1) of this thread's records
    std::vector<int> set(static_cast<size_t>(nb) * V);      // tokens set so far, per record
    std::vector<long> n_set(nb, 0);
    for (long r = 0; r < nb; r++)
      for (long k = 0; k < d - 1; k++) h1[r * D + k] = std::max(a1[(b0 + r) * D + k], 0.0f);
    for (long j = 0; j < V; j++) {
      const long o = d - 1 + j;
      const float* w1 = W1p + tri(o) + d;
      const float* w2 = W2p + tri(o);
      for (long r = 0; r < nb; r++) {
        const long b = b0 + r;
        float* a = a1 + b * D;
        const int* s = set.data() + r * V;
        for (long q = 0; q < n_set[r]; q++) a[o] += w1[s[q]];
        float* h = h1.data() + r * D;
        h[o] = std::max(a[o], 0.0f);
        const float logit = b2[o] + dot(h, w2, o + 1);
        const float p = 1.0f / (1.0f + std::exp(-logit));
        const long xi = b * V + j;
        if (probs != nullptr) probs[xi] = p;
        const int f = fixed == nullptr ? -1 : fixed[xi];
        const bool on = f >= 0 ? f > 0 : uniforms[xi] < p;
        x[xi] = on ? 1.0f : 0.0f;
        if (on) set[r * V + n_set[r]++] = static_cast<int>(j);
      }
    }
    const float* w1 = W1p + tri(D - 1) + d;
    for (long r = 0; r < nb; r++)
      for (long q = 0; q < n_set[r]; q++) a1[(b0 + r) * D + D - 1] += w1[set[r * V + q]];
  });
}

}  // namespace halo
