// madeSampleRow: fills one visit row of B records token by token through HALO's masked two-layer
// head (HALO.md section 4), at the cost of about one pass of the head instead of V passes.
// Threads split the records; each keeps relu(a1) of its records as entries become final.
#include <algorithm>
#include <cmath>
#include <vector>

#include "isa.h"  // before kernels.h: picks HALO_ISA
#include "kernels.h"
#include "thread_pool.h"

#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#endif

#include "isa_begin.h"

namespace halo::HALO_ISA {

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

// The categorical draw of one group (tokens lo..hi of one record's row; see RowRules in
// src/tensor/kernel-api.ts, and drawMember in kernels-ts.ts, which this mirrors): -1 for none.
// required: 0 none allowed, 1 none left out and the weights renormalised, 2 none given to the last
// free member, 3 as 1 (the weights are then the members' own probabilities).
long draw_member(const double* w, long lo, long hi, uint8_t required, float u, const int8_t* fixed_row) {
  auto free_member = [&](long m) { return fixed_row == nullptr || fixed_row[m] < 0; };
  if (required == 3) required = 1;
  double sum = 0;
  for (long m = lo; m <= hi; m++) sum += w[m];
  if (required == 1 && !(sum > 0)) {
    for (long m = lo; m <= hi; m++)
      if (free_member(m)) return m;
    return -1;
  }
  const double target = static_cast<double>(u) * (required == 1 ? sum : 1.0);
  double acc = 0;
  for (long m = lo; m <= hi; m++) {
    acc += w[m];
    if (target < acc && w[m] > 0) return m;
  }
  // renormalised: rounding can leave u * sum a hair above the running sum; the last member with weight
  if (required == 1)
    for (long m = hi; m >= lo; m--)
      if (w[m] > 0) return m;
  if (required == 2)
    for (long m = hi; m >= lo; m--)
      if (free_member(m)) return m;
  return -1;
}

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
// Grouped draws and eras (RowRules): a group's members get weights as the chain reaches them and are
// left off; at the group's last token one member is drawn and turned on, and the rows d+m..o that
// were finalised without it get its W1 column now (their h values change, so the current block's
// prefix dots are corrected for the steps still ahead in it).
void madeSampleRow(float* x, float* probs, float* a1, const float* W1p, const float* W2p, const float* b2,
                   const float* uniforms, const int8_t* fixed, long B, long d, long V, const int32_t* group,
                   const uint8_t* required, const int8_t* era) {
  const long D = d + V;
  const auto tri = [](long o) { return o * (o + 1) / 2; };
  long G = 0;
  if (group != nullptr)
    for (long j = 0; j < V; j++) G = std::max<long>(G, group[j] + 1);
  std::vector<long> gfirst(G, -1), glast(G, -1);
  for (long j = 0; j < V && group != nullptr; j++) {
    if (group[j] < 0) continue;
    if (gfirst[group[j]] < 0) gfirst[group[j]] = j;
    glast[group[j]] = j;
  }
  const int n = static_cast<int>(std::max(1L, std::min<long>(pool_size(), B)));
  pool_run(n, [&](int th) {
    const long b0 = split_begin(B, n, th), nb = split_begin(B, n, th + 1) - b0;
    std::vector<float> h1(static_cast<size_t>(nb) * D);  // relu(a1) of this thread's records
    std::vector<int> set(static_cast<size_t>(nb) * V);   // tokens set so far, per record
    std::vector<long> n_set(nb, 0);
    std::vector<float> prefix(static_cast<size_t>(nb) * J);  // per record, the block's prefix dots
    std::vector<char> chosen(static_cast<size_t>(nb) * G, 0);  // a member of group g is on
    std::vector<double> weight(group != nullptr ? static_cast<size_t>(nb) * V : 0);
    std::vector<double> rem(nb, 1.0);
    std::vector<int> row_era(nb, -1);
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
          const long g = group == nullptr ? -1 : group[j];
          x[xi] = 0.0f;
          if (g < 0) {
            const int e = era == nullptr ? -1 : era[j];
            const bool on = f >= 0 ? f > 0 : (e < 0 || row_era[r] < 0 || e == row_era[r]) && uniforms[xi] < p;
            if (on) {
              x[xi] = 1.0f;
              set[r * V + n_set[r]++] = static_cast<int>(j);
              if (e >= 0 && row_era[r] < 0) row_era[r] = e;
            }
            continue;
          }
          char& done = chosen[r * G + g];
          double* w_row = weight.data() + r * V;
          if (j == gfirst[g]) rem[r] = 1.0;
          w_row[j] = 0;
          if (f >= 0) {
            if (f > 0) {
              x[xi] = 1.0f;
              set[r * V + n_set[r]++] = static_cast<int>(j);
              done = 1;
            }
          } else if (!done) {
            w_row[j] = required != nullptr && required[g] == 3 ? p : rem[r] * p;
            rem[r] *= 1.0 - p;
          }
          if (j != glast[g] || done) continue;
          const int8_t* fixed_row = fixed == nullptr ? nullptr : fixed + (b0 + r) * V;
          const long m = draw_member(w_row, gfirst[g], j, required != nullptr ? required[g] : 0,
                                     uniforms[(b0 + r) * V + gfirst[g]], fixed_row);
          if (m < 0) continue;
          x[(b0 + r) * V + m] = 1.0f;
          set[r * V + n_set[r]++] = static_cast<int>(m);
          done = 1;
          float* a = a1 + (b0 + r) * D;
          float* hr = h1.data() + r * D;
          for (long k = d + m; k <= o; k++) {
            const float old = hr[k];
            a[k] += W1p[tri(k) + d + m];
            hr[k] = std::max(a[k], 0.0f);
            const float delta = hr[k] - old;
            if (delta != 0.0f && k <= o0)
              for (long t2 = t + 1; t2 < jb; t2++) prefix[r * J + t2] += delta * w[t2][k];
          }
        }
      }
    }
    const float* w1 = W1p + tri(D - 1) + d;
    for (long r = 0; r < nb; r++)
      for (long q = 0; q < n_set[r]; q++) a1[(b0 + r) * D + D - 1] += w1[set[r * V + q]];
  });
}

}  // namespace halo::HALO_ISA

#include "isa_end.h"
