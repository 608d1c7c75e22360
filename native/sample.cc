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

constexpr long J = 8;      // steps whose logits share one pass over the h prefix
constexpr long KCH = 512;  // prefix chunk: J rows x KCH floats of W2 (16 KB) stay in L1 across records

// out[t] += sum_{u<n} h[u] * w[t][u] for the J rows w[t]: each h value loaded serves J FMAs.
#if defined(__AVX2__) && defined(__FMA__)
inline float hsum(__m256 v) {
  __m128 h = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  h = _mm_add_ps(h, _mm_movehl_ps(h, h));
  h = _mm_add_ss(h, _mm_shuffle_ps(h, h, 1));
  return _mm_cvtss_f32(h);
}
void dot_rows(const float* h, const float* const w[J], long n, float out[J]) {
  __m256 s[J];
#pragma GCC unroll 8
  for (long t = 0; t < J; t++) s[t] = _mm256_setzero_ps();
  long u = 0;
  for (; u + 8 <= n; u += 8) {
    const __m256 hv = _mm256_loadu_ps(h + u);
#pragma GCC unroll 8
    for (long t = 0; t < J; t++) s[t] = _mm256_fmadd_ps(hv, _mm256_loadu_ps(w[t] + u), s[t]);
  }
  for (long t = 0; t < J; t++) {
    float r = hsum(s[t]);
    for (long v = u; v < n; v++) r += h[v] * w[t][v];
    out[t] += r;
  }
}
#else
void dot_rows(const float* h, const float* const w[J], long n, float out[J]) {
  for (long t = 0; t < J; t++) out[t] += dot(h, w[t], n);
}
#endif

}  // namespace

// Token j's logit is layer-2 output o = d-1+j and needs relu(a1[0..o]). Setting token j' adds
// column d+j' of W1 to a1[o'] for o' >= d+j'; only a1[o] is needed at step j, so the column
// additions are applied lazily, row by row: at step j, a1[o] += W1[o][d+j'] for every token j'
// already set (all have d+j' <= o). That reads row o of W1 instead of walking a column across
// D rows per set token, and adds in the same order as the eager update. Row D-1, which no step
// reads, is brought up to date at the end.
// The logit dots stream every record's h prefix at every step, so steps go in blocks of J:
// at the start of a block at o0 = d-1+j0, h[0..o0] is final, and its dot with each of the J rows
// o0..o0+J-1 of W2 is computed in one pass (chunked so the W2 rows stay in L1 while each
// record's h chunk streams by once); the few terms k in (o0, o] are added step by step.
void madeSampleRow(float* x, float* probs, float* a1, const float* W1p, const float* W2p, const float* b2,
                   const float* uniforms, const int8_t* fixed, long B, long d, long V) {
  const long D = d + V;
  const auto tri = [](long o) { return o * (o + 1) / 2; };
  const int n = static_cast<int>(std::max(1L, std::min<long>(pool_size(), B)));
  pool_run(n, [&](int th) {
    const long b0 = split_begin(B, n, th), nb = split_begin(B, n, th + 1) - b0;
    std::vector<float> h1(static_cast<size_t>(nb) * D);  // relu(a1) of this thread's records
    std::vector<int> set(static_cast<size_t>(nb) * V);   // tokens set so far, per record
    std::vector<long> n_set(nb, 0);
    std::vector<float> prefix(static_cast<size_t>(nb) * J);  // per record, the block's prefix dots
    for (long r = 0; r < nb; r++)
      for (long k = 0; k < d - 1; k++) h1[r * D + k] = std::max(a1[(b0 + r) * D + k], 0.0f);
    // a1[o] += the W1 columns of the tokens set so far, then h[o] = relu(a1[o])
    const auto finalize = [&](long r, long o) {
      float* a = a1 + (b0 + r) * D;
      const float* w1 = W1p + tri(o) + d;
      const int* s = set.data() + r * V;
      for (long u = 0; u < n_set[r]; u++) a[o] += w1[s[u]];
      h1[r * D + o] = std::max(a[o], 0.0f);
    };
    for (long j0 = 0; j0 < V; j0 += J) {
      const long o0 = d - 1 + j0, jb = std::min(J, V - j0);
      for (long r = 0; r < nb; r++) finalize(r, o0);
      std::fill(prefix.begin(), prefix.end(), 0.0f);
      const float* w[J];
      for (long t = 0; t < J; t++) w[t] = W2p + tri(o0 + std::min(t, jb - 1));  // rows past V repeat the last
      for (long k0 = 0; k0 <= o0; k0 += KCH) {
        const long len = std::min(KCH, o0 + 1 - k0);
        const float* wk[J];
        for (long t = 0; t < J; t++) wk[t] = w[t] + k0;
        for (long r = 0; r < nb; r++) dot_rows(h1.data() + r * D + k0, wk, len, prefix.data() + r * J);
      }
      for (long t = 0; t < jb; t++) {
        const long j = j0 + t, o = o0 + t;
        for (long r = 0; r < nb; r++) {
          if (t > 0) finalize(r, o);
          const float* h = h1.data() + r * D;
          float logit = b2[o] + prefix[r * J + t];
          for (long k = o0 + 1; k <= o; k++) logit += w[t][k] * h[k];
          const float p = 1.0f / (1.0f + std::exp(-logit));
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
