// The non-GEMM kernels: embedding bag, layer norm, GELU, ReLU, residual and bias adds, causal
// attention, sigmoid BCE, Adam, and the FMA peak probe. Same maths and names as
// src/tensor/kernels-ts.ts (the reference); each forward beside its backward.
// Threads split rows, heads or chunks where the op is big enough to pay for waking them, and
// always so that no two threads write the same output.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstring>
#include <vector>

#include "isa.h"  // before kernels.h: picks HALO_ISA
#include "kernels.h"
#include "thread_pool.h"

#if (defined(__AVX2__) && defined(__FMA__)) || defined(HALO_AVX512)
// GCC 12 warns that the _mm512_undefined_ps() inside the unmasked AVX-512 intrinsics "may be used
// uninitialized" (GCC bug 105593, fixed in 13); silenced for the header only.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#include <immintrin.h>
#pragma GCC diagnostic pop
#endif

#include "isa_begin.h"

namespace halo::HALO_ISA {

#if defined(__AVX2__) && defined(__FMA__)
float dot(const float* a, const float* b, long n) {
  __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps(), s2 = _mm256_setzero_ps(), s3 = _mm256_setzero_ps();
  long t = 0;
  for (; t + 32 <= n; t += 32) {
    s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + t), _mm256_loadu_ps(b + t), s0);
    s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + t + 8), _mm256_loadu_ps(b + t + 8), s1);
    s2 = _mm256_fmadd_ps(_mm256_loadu_ps(a + t + 16), _mm256_loadu_ps(b + t + 16), s2);
    s3 = _mm256_fmadd_ps(_mm256_loadu_ps(a + t + 24), _mm256_loadu_ps(b + t + 24), s3);
  }
  for (; t + 8 <= n; t += 8) s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + t), _mm256_loadu_ps(b + t), s0);
  const __m256 s = _mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3));
  __m128 h = _mm_add_ps(_mm256_castps256_ps128(s), _mm256_extractf128_ps(s, 1));
  h = _mm_add_ps(h, _mm_movehl_ps(h, h));
  h = _mm_add_ss(h, _mm_shuffle_ps(h, h, 1));
  float r = _mm_cvtss_f32(h);
  for (; t < n; t++) r += a[t] * b[t];
  return r;
}
#else
float dot(const float* a, const float* b, long n) {
  float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  long t = 0;
  for (; t + 4 <= n; t += 4) {
    s0 += a[t] * b[t];
    s1 += a[t + 1] * b[t + 1];
    s2 += a[t + 2] * b[t + 2];
    s3 += a[t + 3] * b[t + 3];
  }
  for (; t < n; t++) s0 += a[t] * b[t];
  return s0 + s1 + s2 + s3;
}
#endif

void axpy(float* y, float alpha, const float* x, long n) {
  for (long t = 0; t < n; t++) y[t] += alpha * x[t];
}

namespace {

// Threads for an op touching `work` floats: one below ~64K, where waking a thread costs more than it saves.
int threads_for(double work, long units) {
  const int n = work < 65536 ? 1 : pool_size();
  return static_cast<int>(std::max(1L, std::min<long>(n, units)));
}

// fn(begin, end) over [0, total) split across threads.
template <class F>
void parallel_for(long total, double work, F fn) {
  const int n = threads_for(work, total);
  pool_run(n, [&](int t) { fn(split_begin(total, n, t), split_begin(total, n, t + 1)); });
}

void scale(float* C, long n, float beta) {
  if (beta == 1) return;
  if (beta == 0) {
    std::memset(C, 0, n * sizeof(float));
    return;
  }
  for (long i = 0; i < n; i++) C[i] *= beta;
}

// ---- vectors for the elementwise kernels (GELU, Adam): 16 lanes with AVX-512, 8 with AVX2+FMA,
// none otherwise (HALO_VEC undefined: plain C++ loops). The last, partial vector of a range is
// done with masked loads and stores, so every element goes through the same instructions
// whatever the length and however the threads split it.

#if defined(HALO_AVX512)
#define HALO_VEC 1
struct Vec {
  using T = __m512;
  static constexpr long W = 16;
  struct Full {};
  struct Part {
    __mmask16 m;
  };
  static Part part(long r) { return {static_cast<__mmask16>((1u << r) - 1)}; }
  static T load(const float* p, Full) { return _mm512_loadu_ps(p); }
  static T load(const float* p, Part k) { return _mm512_maskz_loadu_ps(k.m, p); }
  static void store(float* p, T v, Full) { _mm512_storeu_ps(p, v); }
  static void store(float* p, T v, Part k) { _mm512_mask_storeu_ps(p, k.m, v); }
  static T set1(float a) { return _mm512_set1_ps(a); }
  static T add(T a, T b) { return _mm512_add_ps(a, b); }
  static T sub(T a, T b) { return _mm512_sub_ps(a, b); }
  static T mul(T a, T b) { return _mm512_mul_ps(a, b); }
  static T div(T a, T b) { return _mm512_div_ps(a, b); }
  static T sqrt(T a) { return _mm512_sqrt_ps(a); }
  static T fmadd(T a, T b, T c) { return _mm512_fmadd_ps(a, b, c); }    // a*b + c
  static T fnmadd(T a, T b, T c) { return _mm512_fnmadd_ps(a, b, c); }  // c - a*b
  // max/min return their second operand when either is NaN: called as clamp(x) they keep a NaN x.
  static T clamp(T x, float lo, float hi) { return _mm512_min_ps(set1(hi), _mm512_max_ps(set1(lo), x)); }
  static T round(T a) { return _mm512_roundscale_ps(a, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
  static T select_lt(T a, T b, T x, T y) { return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(a, b, _CMP_LT_OQ), y, x); }
  // y * 2^n for integral n in [-127, 128]: the bits of 2^n (0 for n = -127, +inf for n = 128).
  static T ldexp(T y, T n) {
    const __m512i e = _mm512_slli_epi32(_mm512_add_epi32(_mm512_cvtps_epi32(n), _mm512_set1_epi32(127)), 23);
    return _mm512_mul_ps(y, _mm512_castsi512_ps(e));
  }
};
#elif defined(__AVX2__) && defined(__FMA__)
#define HALO_VEC 1
struct Vec {
  using T = __m256;
  static constexpr long W = 8;
  struct Full {};
  struct Part {
    __m256i m;
  };
  static Part part(long r) {
    return {_mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(r)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7))};
  }
  static T load(const float* p, Full) { return _mm256_loadu_ps(p); }
  static T load(const float* p, Part k) { return _mm256_maskload_ps(p, k.m); }
  static void store(float* p, T v, Full) { _mm256_storeu_ps(p, v); }
  static void store(float* p, T v, Part k) { _mm256_maskstore_ps(p, k.m, v); }
  static T set1(float a) { return _mm256_set1_ps(a); }
  static T add(T a, T b) { return _mm256_add_ps(a, b); }
  static T sub(T a, T b) { return _mm256_sub_ps(a, b); }
  static T mul(T a, T b) { return _mm256_mul_ps(a, b); }
  static T div(T a, T b) { return _mm256_div_ps(a, b); }
  static T sqrt(T a) { return _mm256_sqrt_ps(a); }
  static T fmadd(T a, T b, T c) { return _mm256_fmadd_ps(a, b, c); }
  static T fnmadd(T a, T b, T c) { return _mm256_fnmadd_ps(a, b, c); }
  static T clamp(T x, float lo, float hi) { return _mm256_min_ps(set1(hi), _mm256_max_ps(set1(lo), x)); }
  static T round(T a) { return _mm256_round_ps(a, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
  static T select_lt(T a, T b, T x, T y) { return _mm256_blendv_ps(y, x, _mm256_cmp_ps(a, b, _CMP_LT_OQ)); }
  static T ldexp(T y, T n) {
    const __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    return _mm256_mul_ps(y, _mm256_castsi256_ps(e));
  }
};
#endif

#if defined(HALO_VEC)
// body(i, lanes) for the vectors of [i0, i1): lanes is Vec::Full, or a Vec::Part for the last, short one.
template <class Body>
inline void for_vectors(long i0, long i1, Body body) {
  long i = i0;
  for (; i + Vec::W <= i1; i += Vec::W) body(i, Vec::Full{});
  if (i < i1) body(i, Vec::part(i1 - i));
}

// e^x in float32 (Cephes expf: x = n ln2 + r with |r| <= ln2/2, a degree-6 polynomial for e^r,
// about 1 ulp). x is clamped to [-88, 89]: 0 below -87.7 (no denormals), +inf above about 88.4
// (rather than at 88.72); NaN stays NaN.
inline Vec::T vexp(Vec::T x) {
  x = Vec::clamp(x, -88.0f, 89.0f);
  const Vec::T n = Vec::round(Vec::mul(x, Vec::set1(1.44269504088896341f)));
  Vec::T r = Vec::fnmadd(n, Vec::set1(0.693359375f), x);
  r = Vec::fnmadd(n, Vec::set1(-2.12194440e-4f), r);
  Vec::T y = Vec::set1(1.9875691500e-4f);
  y = Vec::fmadd(y, r, Vec::set1(1.3981999507e-3f));
  y = Vec::fmadd(y, r, Vec::set1(8.3334519073e-3f));
  y = Vec::fmadd(y, r, Vec::set1(4.1665795894e-2f));
  y = Vec::fmadd(y, r, Vec::set1(1.6666665459e-1f));
  y = Vec::fmadd(y, r, Vec::set1(5.0000001201e-1f));
  y = Vec::fmadd(y, Vec::mul(r, r), Vec::add(r, Vec::set1(1.0f)));
  return Vec::ldexp(y, n);
}
#endif

// fn(begin, end) over [0, n) split across threads at multiples of 16 elements (whole vectors, and
// whole cache lines, per thread).
template <class F>
void parallel_for_vectors(long n, double work, F fn) {
  constexpr long B = 16;
  parallel_for((n + B - 1) / B, work, [&](long b0, long b1) { fn(b0 * B, std::min(b1 * B, n)); });
}

}  // namespace

// ---- embedding bag ----

void embeddingBagForward(float* out, const int32_t* idx, const int32_t* off, const float* W, long N, long C,
                         float beta) {
  scale(out, N * C, beta);
  const double work = static_cast<double>(N > 0 ? off[N] - off[0] : 0) * C;
  parallel_for(N, work, [&](long n0, long n1) {
    for (long n = n0; n < n1; n++)
      for (long k = off[n]; k < off[n + 1]; k++) axpy(out + n * C, 1, W + static_cast<long>(idx[k]) * C, C);
  });
}

// Rows may share indices, so threads split the columns instead: no two write the same float.
void embeddingBagBackward(float* dW, const float* dout, const int32_t* idx, const int32_t* off, long N, long C) {
  const double work = static_cast<double>(N > 0 ? off[N] - off[0] : 0) * C;
  parallel_for(C, work, [&](long c0, long c1) {
    for (long n = 0; n < N; n++)
      for (long k = off[n]; k < off[n + 1]; k++)
        axpy(dW + static_cast<long>(idx[k]) * C + c0, 1, dout + n * C + c0, c1 - c0);
  });
}

// ---- layer norm ----

void layernormForward(float* out, float* mean, float* rstd, const float* inp, const float* w, const float* b, long N,
                      long C) {
  parallel_for(N, static_cast<double>(N) * C, [&](long n0, long n1) {
    for (long n = n0; n < n1; n++) {
      const float* x = inp + n * C;
      float m = 0;
      for (long i = 0; i < C; i++) m += x[i];
      m /= C;
      float v = 0;
      for (long i = 0; i < C; i++) v += (x[i] - m) * (x[i] - m);
      v /= C;
      const float s = 1.0f / std::sqrt(v + 1e-5f);
      float* o = out + n * C;
      for (long i = 0; i < C; i++) o[i] = s * (x[i] - m) * w[i] + b[i];
      mean[n] = m;
      rstd[n] = s;
    }
  });
}

// dw and db sum over rows, so each thread sums its rows privately and the sums are added at the end.
void layernormBackward(float* dinp, float* dw, float* db, const float* dout, const float* inp, const float* w,
                       const float* mean, const float* rstd, long N, long C) {
  const int n_threads = threads_for(static_cast<double>(N) * C, N);
  std::vector<float> partial(static_cast<size_t>(n_threads) * 2 * C, 0.0f);
  pool_run(n_threads, [&](int t) {
    float* pdw = partial.data() + static_cast<size_t>(t) * 2 * C;
    float* pdb = pdw + C;
    for (long n = split_begin(N, n_threads, t); n < split_begin(N, n_threads, t + 1); n++) {
      const float* x = inp + n * C;
      const float* g = dout + n * C;
      const float m = mean[n], s = rstd[n];
      float dnorm_mean = 0, dnorm_norm_mean = 0;
      for (long i = 0; i < C; i++) {
        const float norm = (x[i] - m) * s;
        const float dnorm = w[i] * g[i];
        dnorm_mean += dnorm;
        dnorm_norm_mean += dnorm * norm;
      }
      dnorm_mean /= C;
      dnorm_norm_mean /= C;
      float* di = dinp + n * C;
      for (long i = 0; i < C; i++) {
        const float norm = (x[i] - m) * s;
        const float dnorm = w[i] * g[i];
        pdb[i] += g[i];
        pdw[i] += norm * g[i];
        di[i] += (dnorm - dnorm_mean - norm * dnorm_norm_mean) * s;
      }
    }
  });
  for (int t = 0; t < n_threads; t++) {
    axpy(dw, 1, partial.data() + static_cast<size_t>(t) * 2 * C, C);
    axpy(db, 1, partial.data() + static_cast<size_t>(t) * 2 * C + C, C);
  }
}

// ---- GELU (tanh approximation) ----
// With u = sqrt(2/pi) (x + 0.044715 x^3), e = exp(-2u) and s = 1/(1 + e) = (1 + tanh u)/2:
//   gelu(x) = x (1 + tanh u)/2 = x s,
//   gelu'(x) = (1 + tanh u)/2 + x/2 (1 - tanh^2 u) du/dx = s + 2 x (1 - s) s du/dx,
// the same functions as the reference's tanh form, written so that neither tail cancels
// (1 + tanh u for u << 0, 1 - tanh^2 u for |u| large): one exp and one division per element.

constexpr float GELU_SCALE = 0.7978845608028654f;  // sqrt(2/pi)
constexpr float GELU_CUBE = 0.044715f;

// The work estimate per element: small enough that a vectorised call below ~32K elements stays on one thread.
constexpr double GELU_WORK = 2.0;

void geluForward(float* __restrict out, const float* __restrict inp, long n) {
  parallel_for_vectors(n, GELU_WORK * n, [&](long i0, long i1) {
#if defined(HALO_VEC)
    // -2u = x (a + b x^2)
    const Vec::T a = Vec::set1(-2.0f * GELU_SCALE), b = Vec::set1(-2.0f * GELU_SCALE * GELU_CUBE);
    const Vec::T one = Vec::set1(1.0f);
    for_vectors(i0, i1, [&](long i, auto lanes) {
      const Vec::T x = Vec::load(inp + i, lanes);
      const Vec::T e = vexp(Vec::mul(x, Vec::fmadd(b, Vec::mul(x, x), a)));
      Vec::store(out + i, Vec::div(x, Vec::add(one, e)), lanes);
    });
#else
    for (long i = i0; i < i1; i++) {
      const float x = inp[i];
      out[i] = x / (1.0f + std::exp(-2.0f * GELU_SCALE * (x + GELU_CUBE * x * x * x)));
    }
#endif
  });
}

void geluBackward(float* __restrict dinp, const float* __restrict inp, const float* __restrict dout, long n) {
  parallel_for_vectors(n, GELU_WORK * n, [&](long i0, long i1) {
#if defined(HALO_VEC)
    const Vec::T a = Vec::set1(-2.0f * GELU_SCALE), b = Vec::set1(-2.0f * GELU_SCALE * GELU_CUBE);
    // 2 du/dx = c + d x^2
    const Vec::T c = Vec::set1(2.0f * GELU_SCALE), d = Vec::set1(2.0f * GELU_SCALE * 3.0f * GELU_CUBE);
    const Vec::T one = Vec::set1(1.0f);
    for_vectors(i0, i1, [&](long i, auto lanes) {
      const Vec::T x = Vec::load(inp + i, lanes);
      const Vec::T x2 = Vec::mul(x, x);
      const Vec::T e = vexp(Vec::mul(x, Vec::fmadd(b, x2, a)));
      const Vec::T s = Vec::div(one, Vec::add(one, e));
      // 1 - s: as e s while e < 1 (s near 1, where 1 - s would cancel), else as 1 - s (also when e = inf)
      const Vec::T es = Vec::select_lt(e, one, Vec::mul(e, s), Vec::sub(one, s));
      const Vec::T grad = Vec::fmadd(Vec::mul(x, Vec::fmadd(d, x2, c)), Vec::mul(es, s), s);
      Vec::store(dinp + i, Vec::fmadd(grad, Vec::load(dout + i, lanes), Vec::load(dinp + i, lanes)), lanes);
    });
#else
    for (long i = i0; i < i1; i++) {
      const float x = inp[i];
      const float e = std::exp(-2.0f * GELU_SCALE * (x + GELU_CUBE * x * x * x));
      const float s = 1.0f / (1.0f + e);
      const float es = e < 1 ? e * s : 1 - s;  // 1 - s without the cancellation near s = 1
      const float grad = s + x * 2.0f * GELU_SCALE * (1.0f + 3.0f * GELU_CUBE * x * x) * es * s;
      dinp[i] += grad * dout[i];
    }
#endif
  });
}

// ---- ReLU, residual add, bias ----

void reluForward(float* out, const float* inp, long n) {
  parallel_for(n, n, [&](long i0, long i1) {
    for (long i = i0; i < i1; i++) out[i] = inp[i] > 0 ? inp[i] : 0;
  });
}

void reluBackward(float* dinp, const float* inp, const float* dout, long n) {
  parallel_for(n, n, [&](long i0, long i1) {
    for (long i = i0; i < i1; i++) dinp[i] += inp[i] > 0 ? dout[i] : 0;
  });
}

void addInPlace(float* a, const float* b, long n) {
  parallel_for(n, n, [&](long i0, long i1) { axpy(a + i0, 1, b + i0, i1 - i0); });
}

void biasAddForward(float* out, const float* bias, long N, long C) {
  parallel_for(N, static_cast<double>(N) * C, [&](long n0, long n1) {
    for (long n = n0; n < n1; n++) axpy(out + n * C, 1, bias, C);
  });
}

// Threads split the columns so that each bias entry has one writer.
void biasAddBackward(float* dbias, const float* dout, long N, long C) {
  parallel_for(C, static_cast<double>(N) * C, [&](long c0, long c1) {
    for (long n = 0; n < N; n++) axpy(dbias + c0, 1, dout + n * C + c0, c1 - c0);
  });
}

// ---- causal multi-head self-attention; threads split the (batch, head) pairs ----

void attentionForward(float* out, float* att, const float* qkv, long B, long T, long C, long NH) {
  const long hs = C / NH, C3 = 3 * C;
  const float scale_ = 1.0f / std::sqrt(static_cast<float>(hs));
  parallel_for(B * NH, static_cast<double>(B) * NH * T * T * hs, [&](long p0, long p1) {
    for (long p = p0; p < p1; p++) {
      const long b = p / NH, h = p % NH;
      for (long t = 0; t < T; t++) {
        const float* q = qkv + (b * T + t) * C3 + h * hs;
        float* a = att + ((b * NH + h) * T + t) * T;
        float max = -INFINITY;
        for (long t2 = 0; t2 <= t; t2++) {
          const float s = dot(q, qkv + (b * T + t2) * C3 + C + h * hs, hs) * scale_;
          a[t2] = s;
          max = std::max(max, s);
        }
        float sum = 0;
        for (long t2 = 0; t2 <= t; t2++) {
          a[t2] = std::exp(a[t2] - max);
          sum += a[t2];
        }
        const float inv = 1.0f / sum;
        for (long t2 = 0; t2 <= t; t2++) a[t2] *= inv;
        for (long t2 = t + 1; t2 < T; t2++) a[t2] = 0;
        float* o = out + (b * T + t) * C + h * hs;
        std::memset(o, 0, hs * sizeof(float));
        for (long t2 = 0; t2 <= t; t2++) axpy(o, a[t2], qkv + (b * T + t2) * C3 + 2 * C + h * hs, hs);
      }
    }
  });
}

void attentionBackward(float* dqkv, const float* dout, const float* qkv, const float* att, long B, long T, long C,
                       long NH) {
  const long hs = C / NH, C3 = 3 * C;
  const float scale_ = 1.0f / std::sqrt(static_cast<float>(hs));
  parallel_for(B * NH, static_cast<double>(B) * NH * T * T * hs, [&](long p0, long p1) {
    std::vector<float> datt(T);
    for (long p = p0; p < p1; p++) {
      const long b = p / NH, h = p % NH;
      for (long t = 0; t < T; t++) {
        const long q = (b * T + t) * C3 + h * hs;
        const float* a = att + ((b * NH + h) * T + t) * T;
        const float* g = dout + (b * T + t) * C + h * hs;
        // through the value sum
        float att_datt = 0;
        for (long t2 = 0; t2 <= t; t2++) {
          const long v = (b * T + t2) * C3 + 2 * C + h * hs;
          datt[t2] = dot(g, qkv + v, hs);
          att_datt += a[t2] * datt[t2];
          axpy(dqkv + v, a[t2], g, hs);
        }
        // through the softmax and the scaled scores
        for (long t2 = 0; t2 <= t; t2++) {
          const float ds = a[t2] * (datt[t2] - att_datt) * scale_;
          const long k = (b * T + t2) * C3 + C + h * hs;
          axpy(dqkv + q, ds, qkv + k, hs);
          axpy(dqkv + k, ds, qkv + q, hs);
        }
      }
    }
  });
}

// ---- loss: each thread sums its rows in double, the partial sums are added in thread order ----

double sigmoidBce(float* dlogits, const float* logits, const float* targets, const float* rowMask, long N, long V,
                  float scale_) {
  const int n_threads = threads_for(8.0 * N * V, N);
  std::vector<double> partial(n_threads, 0.0);
  pool_run(n_threads, [&](int t) {
    double loss = 0;
    for (long n = split_begin(N, n_threads, t); n < split_begin(N, n_threads, t + 1); n++) {
      float* dl = dlogits + n * V;
      if (rowMask[n] == 0) {
        std::memset(dl, 0, V * sizeof(float));
        continue;
      }
      const float* x = logits + n * V;
      const float* y = targets + n * V;
      const float g = scale_ * rowMask[n];
      double row = 0;
      for (long j = 0; j < V; j++) {
        // bce = log(1 + e^x) - x*y, written so neither branch overflows
        row += std::max(x[j], 0.0f) - x[j] * y[j] + std::log1p(std::exp(-std::fabs(x[j])));
        dl[j] = g * (1.0f / (1.0f + std::exp(-x[j])) - y[j]);
      }
      loss += rowMask[n] * row;
    }
    partial[t] = loss;
  });
  double loss = 0;
  for (double p : partial) loss += p;
  return loss;
}

// ---- Adam (torch.optim.Adam: weight decay as L2 added to the gradient) ----
// p -= (lr / bc1) m / (sqrt(v) / sqrt(bc2) + eps), with PyTorch's operations and order (two
// divisions, no reciprocal estimates); vectorised, the weight-decay test hoisted out of the loop.

namespace {

template <bool WD>
void adam_range(float* __restrict p, const float* __restrict g, float* __restrict m, float* __restrict v, long i0,
                long i1, float beta1, float beta2, float eps, float wd, float step_size, float sqrt_bc2) {
#if defined(HALO_VEC)
  const Vec::T b1 = Vec::set1(beta1), b2 = Vec::set1(beta2), c1 = Vec::set1(1 - beta1), c2 = Vec::set1(1 - beta2);
  const Vec::T vwd = Vec::set1(wd), veps = Vec::set1(eps), step = Vec::set1(step_size), sb = Vec::set1(sqrt_bc2);
  for_vectors(i0, i1, [&](long i, auto lanes) {
    const Vec::T pi = Vec::load(p + i, lanes);
    Vec::T grad = Vec::load(g + i, lanes);
    if (WD) grad = Vec::fmadd(vwd, pi, grad);
    const Vec::T mi = Vec::fmadd(b1, Vec::load(m + i, lanes), Vec::mul(c1, grad));
    const Vec::T vi = Vec::fmadd(b2, Vec::load(v + i, lanes), Vec::mul(Vec::mul(c2, grad), grad));
    Vec::store(m + i, mi, lanes);
    Vec::store(v + i, vi, lanes);
    const Vec::T denom = Vec::add(Vec::div(Vec::sqrt(vi), sb), veps);
    Vec::store(p + i, Vec::sub(pi, Vec::div(Vec::mul(step, mi), denom)), lanes);
  });
#else
  for (long i = i0; i < i1; i++) {
    const float grad = WD ? g[i] + wd * p[i] : g[i];
    const float mi = beta1 * m[i] + (1 - beta1) * grad;
    const float vi = beta2 * v[i] + (1 - beta2) * grad * grad;
    m[i] = mi;
    v[i] = vi;
    p[i] -= step_size * mi / (std::sqrt(vi) / sqrt_bc2 + eps);
  }
#endif
}

}  // namespace

void adamStep(float* p, const float* g, float* m, float* v, long n, float lr, float beta1, float beta2, float eps,
              float wd, long t) {
  const double bc1 = 1 - std::pow(static_cast<double>(beta1), static_cast<double>(t));
  const double bc2 = 1 - std::pow(static_cast<double>(beta2), static_cast<double>(t));
  const float step_size = static_cast<float>(lr / bc1);
  const float sqrt_bc2 = static_cast<float>(std::sqrt(bc2));
  parallel_for_vectors(n, 2.0 * n, [&](long i0, long i1) {
    if (wd == 0)
      adam_range<false>(p, g, m, v, i0, i1, beta1, beta2, eps, wd, step_size, sqrt_bc2);
    else
      adam_range<true>(p, g, m, v, i0, i1, beta1, beta2, eps, wd, step_size, sqrt_bc2);
  });
}

void emaUpdate(float* avg, const float* p, long n, float w) {
  parallel_for(n, n, [&](long i0, long i1) {
    for (long i = i0; i < i1; i++) avg[i] += w * (p[i] - avg[i]);
  });
}

// ---- FMA peak: independent FMA chains on every thread, enough of them to cover FMA latency ----

namespace {

// `iters` rounds of 12 independent FMA chains (enough to cover FMA latency on both pipes), kept
// in named registers (an array gets spilled to the stack); returns a value that depends on all
// of them so none is optimised away.
#define HALO_FMA_LOOP(NAME, VEC, SET1, FMADD, ADD, STORE, LANES, CONSTRAINT)                               \
  double NAME(long iters) {                                                                                \
    VEC c0 = SET1(0.f), c1 = SET1(1.f), c2 = SET1(2.f), c3 = SET1(3.f), c4 = SET1(4.f), c5 = SET1(5.f);    \
    VEC c6 = SET1(6.f), c7 = SET1(7.f), c8 = SET1(8.f), c9 = SET1(9.f), c10 = SET1(10.f), c11 = SET1(11.f); \
    const VEC x = SET1(0.999999f), y = SET1(1e-7f);                                                        \
    for (long i = 0; i < iters; i++) {                                                                     \
      c0 = FMADD(c0, x, y);                                                                                \
      c1 = FMADD(c1, x, y);                                                                                \
      c2 = FMADD(c2, x, y);                                                                                \
      c3 = FMADD(c3, x, y);                                                                                \
      c4 = FMADD(c4, x, y);                                                                                \
      c5 = FMADD(c5, x, y);                                                                                \
      c6 = FMADD(c6, x, y);                                                                                \
      c7 = FMADD(c7, x, y);                                                                                \
      c8 = FMADD(c8, x, y);                                                                                \
      c9 = FMADD(c9, x, y);                                                                                \
      c10 = FMADD(c10, x, y);                                                                              \
      c11 = FMADD(c11, x, y);                                                                              \
      __asm__ volatile("" : "+" CONSTRAINT(c0), "+" CONSTRAINT(c1), "+" CONSTRAINT(c2), "+" CONSTRAINT(c3)); \
    }                                                                                                      \
    VEC s = ADD(ADD(ADD(c0, c1), ADD(c2, c3)), ADD(ADD(c4, c5), ADD(c6, c7)));                              \
    s = ADD(s, ADD(ADD(c8, c9), ADD(c10, c11)));                                                            \
    alignas(64) float out[LANES];                                                                          \
    STORE(out, s);                                                                                         \
    return out[0];                                                                                         \
  }

#if defined(__AVX2__) && defined(__FMA__)
HALO_FMA_LOOP(fma_loop_ymm, __m256, _mm256_set1_ps, _mm256_fmadd_ps, _mm256_add_ps, _mm256_store_ps, 8, "x")
constexpr double FLOPS_PER_ITER_YMM = 12 * 8 * 2;
#endif

#if defined(HALO_AVX512)
HALO_FMA_LOOP(fma_loop_zmm, __m512, _mm512_set1_ps, _mm512_fmadd_ps, _mm512_add_ps, _mm512_store_ps, 16, "v")
#endif

// GFLOP/s of `loop` run on every pool thread for about `seconds` (wall clock over all of them).
template <class L>
double measure(L loop, double flops_per_iter, double seconds) {
  const int n = pool_size();
  std::vector<double> flops(n, 0.0);
  std::atomic<double> sink{0.0};
  const auto start = std::chrono::steady_clock::now();
  pool_run(n, [&](int t) {
    const long chunk = 1 << 20;
    double local = 0;
    while (std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() < seconds) {
      local += loop(chunk);
      flops[t] += chunk * flops_per_iter;
    }
    sink.store(local);
  });
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  double total = 0;
  for (double f : flops) total += f;
  return total / elapsed / 1e9;
}

}  // namespace

// The best of the vector widths the build supports (on CPUs that split 512-bit FMAs into two
// 256-bit halves both give the same figure).
double peakGflops(double seconds) {
#if defined(__AVX2__) && defined(__FMA__)
  double best = measure(fma_loop_ymm, FLOPS_PER_ITER_YMM, seconds);
#if defined(HALO_AVX512)
  best = std::max(best, measure(fma_loop_zmm, 12 * 16 * 2, seconds));
#endif
  return best;
#else
  // Without AVX2 the compiler's own vectorisation of a scalar loop is the peak we can reach.
  return measure(
      [](long iters) {
        float acc[16];
        for (int c = 0; c < 16; c++) acc[c] = static_cast<float>(c);
        for (long i = 0; i < iters; i++)
          for (int c = 0; c < 16; c++) acc[c] = acc[c] * 0.999999f + 1e-7f;
        float s = 0;
        for (float a : acc) s += a;
        return static_cast<double>(s);
      },
      16 * 2, seconds);
#endif
}

}  // namespace halo::HALO_ISA

#include "isa_end.h"
