// madeSampleRow: fills one visit row of B records token by token through HALO's masked two-layer
// head (HALO.md section 4), at the cost of about one pass of the head instead of V passes.
// Threads split the records; each keeps relu(a1) of its records as entries become final.
#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels.h"
#include "thread_pool.h"

#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#endif

namespace halo {

namespace {

// out[q] = sum_{t<n} h[q][t] * w[t] for four records at once: each w value loaded serves four
// FMAs, which matters because the h rows stream from L2 at every step.
#if defined(__AVX2__) && defined(__FMA__)
inline float hsum(__m256 v) {
  __m128 h = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  h = _mm_add_ps(h, _mm_movehl_ps(h, h));
  h = _mm_add_ss(h, _mm_shuffle_ps(h, h, 1));
  return _mm_cvtss_f32(h);
}
void dot4(const float* const h[4], const float* w, long n, float out[4]) {
  __m256 s[4][2];
  for (int q = 0; q < 4; q++) s[q][0] = s[q][1] = _mm256_setzero_ps();
  long t = 0;
  for (; t + 16 <= n; t += 16) {
    const __m256 w0 = _mm256_loadu_ps(w + t), w1 = _mm256_loadu_ps(w + t + 8);
#pragma GCC unroll 4
    for (int q = 0; q < 4; q++) {
      s[q][0] = _mm256_fmadd_ps(_mm256_loadu_ps(h[q] + t), w0, s[q][0]);
      s[q][1] = _mm256_fmadd_ps(_mm256_loadu_ps(h[q] + t + 8), w1, s[q][1]);
    }
  }
  for (int q = 0; q < 4; q++) {
    float r = hsum(_mm256_add_ps(s[q][0], s[q][1]));
    for (long u = t; u < n; u++) r += h[q][u] * w[u];
    out[q] = r;
  }
}
#else
void dot4(const float* const h[4], const float* w, long n, float out[4]) {
  for (int q = 0; q < 4; q++) out[q] = dot(h[q], w, n);
}
#endif

}  // namespace

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
      // records in groups of four share each load of the W2 row
      for (long r0 = 0; r0 < nb; r0 += 4) {
        const long g = std::min(4L, nb - r0);
        const float* h[4];
        for (long q = 0; q < g; q++) {
          const long r = r0 + q;
          float* a = a1 + (b0 + r) * D;
          const int* s = set.data() + r * V;
          for (long u = 0; u < n_set[r]; u++) a[o] += w1[s[u]];
          h[q] = h1.data() + r * D;
          h1[r * D + o] = std::max(a[o], 0.0f);
        }
        float dots[4];
        if (g == 4) {
          dot4(h, w2, o + 1, dots);
        } else {
          for (long q = 0; q < g; q++) dots[q] = dot(h[q], w2, o + 1);
        }
        for (long q = 0; q < g; q++) {
          const long r = r0 + q;
          const float p = 1.0f / (1.0f + std::exp(-(b2[o] + dots[q])));
          const long xi = (b0 + r) * V + j;
          if (probs != nullptr) probs[xi] = p;
          const int f = fixed == nullptr ? -1 : fixed[xi];
          const bool on = f >= 0 ? f > 0 : uniforms[xi] < p;
          x[xi] = on ? 1.0f : 0.0f;
          if (on) set[r * V + n_set[r]++] = static_cast<int>(j);
        }
      }
    }
    const float* w1 = W1p + tri(D - 1) + d;
    for (long r = 0; r < nb; r++)
      for (long q = 0; q < n_set[r]; q++) a1[(b0 + r) * D + D - 1] += w1[set[r * V + q]];
  });
}

}  // namespace halo
