// Matrix products: one blocked, packed GEMM (BLIS loop order jc -> pc -> ic -> jr -> ir) with a
// register-tile micro-kernel (8x32 AVX-512, 6x16 AVX2+FMA, generic C++ otherwise), shared by the dense products
// (NN, NT, TN differ only in how A and B are read while packing) and by the lower-triangular
// masked-weight products, which skip every block and k-range of the micro-kernel that lies
// entirely in the masked-out upper triangle: about half the work of the dense product.
// Threads split the output into contiguous slices of equal work; each packs its own panels,
// so no synchronisation is needed inside a product.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>

#include "isa.h"  // before kernels.h: picks HALO_ISA
#include "kernels.h"
#include "thread_pool.h"

#if defined(__AVX2__) || defined(HALO_AVX512)
#include <immintrin.h>
#endif

#include "isa_begin.h"

namespace halo::HALO_ISA {
namespace {

// Register tile MR x NR; the A block MC x KC (150-220 KB) stays in L2, the B panel KC x NC (4-6 MB)
// in L3, and one B micro-panel KC x NR (16-48 KB) near L1 while every A micro-panel of the block
// sweeps it. KC was tuned on AMD Zen 4 (1024^3, one thread): 384 beat 128, 192 and 256 by 5-15%.
#if defined(HALO_AVX512)
// 16 zmm accumulators: half the instructions per flop of the AVX2 tile, so the loads and
// broadcasts stay hidden even where 512-bit FMAs run as two 256-bit halves (AMD Zen 4).
constexpr long MR = 8, NR = 32, KC = 384, MC = 144, NC = 4064;
#else
constexpr long MR = 6, NR = 16, KC = 256, MC = 144, NC = 4080;
#endif

inline long tri(long o) { return o * (o + 1) / 2; }

// How B(k, j) is read (k: reduction index, j: output column).
enum class BKind {
  RowMajor,  // B[k*ldb + j]
  ColMajor,  // B[j*ldb + k]
  TriByOut,  // packed W, k = input i, j = output o: W[o][i] when i <= o   (triForward)
  TriByIn,   // packed W, k = output o, j = input i: W[o][i] when i <= o   (triBackwardInput)
};
// How C(i, j) is stored: dense row-major, or packed lower-triangular (only j <= i exists).
enum class CKind { Dense, TriPacked };

struct Gemm {
  const float* A;
  long a_rs, a_cs;  // A(i,k) = A[i*a_rs + k*a_cs]; one of the two strides is 1
  const float* B;
  long ldb;
  BKind bk;
  float* C;
  long ldc;
  CKind ck;
  long M, N, K;
};

// C[MR x NR] (row stride ldc) += Ap[k x MR] (k-major panel) * Bp[k x NR] (k-major panel)
#if defined(HALO_AVX512)
void micro_kernel(long k, const float* __restrict a, const float* __restrict b, float* __restrict c, long ldc) {
  __m512 acc[MR][2];
#pragma GCC unroll 8
  for (long r = 0; r < MR; r++) acc[r][0] = acc[r][1] = _mm512_setzero_ps();
#pragma GCC unroll 2
  for (long p = 0; p < k; p++) {
    const __m512 b0 = _mm512_loadu_ps(b), b1 = _mm512_loadu_ps(b + 16);
#pragma GCC unroll 8
    for (long r = 0; r < MR; r++) {
      const __m512 av = _mm512_set1_ps(a[r]);
      acc[r][0] = _mm512_fmadd_ps(av, b0, acc[r][0]);
      acc[r][1] = _mm512_fmadd_ps(av, b1, acc[r][1]);
    }
    a += MR;
    b += NR;
  }
#pragma GCC unroll 8
  for (long r = 0; r < MR; r++) {
    float* row = c + r * ldc;
    _mm512_storeu_ps(row, _mm512_add_ps(_mm512_loadu_ps(row), acc[r][0]));
    _mm512_storeu_ps(row + 16, _mm512_add_ps(_mm512_loadu_ps(row + 16), acc[r][1]));
  }
}
#elif defined(__AVX2__) && defined(__FMA__)
void micro_kernel(long k, const float* __restrict a, const float* __restrict b, float* __restrict c, long ldc) {
  __m256 c00 = _mm256_setzero_ps(), c01 = _mm256_setzero_ps(), c10 = _mm256_setzero_ps(),
         c11 = _mm256_setzero_ps(), c20 = _mm256_setzero_ps(), c21 = _mm256_setzero_ps(),
         c30 = _mm256_setzero_ps(), c31 = _mm256_setzero_ps(), c40 = _mm256_setzero_ps(),
         c41 = _mm256_setzero_ps(), c50 = _mm256_setzero_ps(), c51 = _mm256_setzero_ps();
#pragma GCC unroll 4
  for (long p = 0; p < k; p++) {
    const __m256 b0 = _mm256_loadu_ps(b), b1 = _mm256_loadu_ps(b + 8);
    __m256 av = _mm256_broadcast_ss(a);
    c00 = _mm256_fmadd_ps(av, b0, c00);
    c01 = _mm256_fmadd_ps(av, b1, c01);
    av = _mm256_broadcast_ss(a + 1);
    c10 = _mm256_fmadd_ps(av, b0, c10);
    c11 = _mm256_fmadd_ps(av, b1, c11);
    av = _mm256_broadcast_ss(a + 2);
    c20 = _mm256_fmadd_ps(av, b0, c20);
    c21 = _mm256_fmadd_ps(av, b1, c21);
    av = _mm256_broadcast_ss(a + 3);
    c30 = _mm256_fmadd_ps(av, b0, c30);
    c31 = _mm256_fmadd_ps(av, b1, c31);
    av = _mm256_broadcast_ss(a + 4);
    c40 = _mm256_fmadd_ps(av, b0, c40);
    c41 = _mm256_fmadd_ps(av, b1, c41);
    av = _mm256_broadcast_ss(a + 5);
    c50 = _mm256_fmadd_ps(av, b0, c50);
    c51 = _mm256_fmadd_ps(av, b1, c51);
    a += MR;
    b += NR;
  }
  const __m256 acc[MR][2] = {{c00, c01}, {c10, c11}, {c20, c21}, {c30, c31}, {c40, c41}, {c50, c51}};
  for (long r = 0; r < MR; r++) {
    float* row = c + r * ldc;
    _mm256_storeu_ps(row, _mm256_add_ps(_mm256_loadu_ps(row), acc[r][0]));
    _mm256_storeu_ps(row + 8, _mm256_add_ps(_mm256_loadu_ps(row + 8), acc[r][1]));
  }
}
#else
void micro_kernel(long k, const float* __restrict a, const float* __restrict b, float* __restrict c, long ldc) {
  float acc[MR][NR] = {};
  for (long p = 0; p < k; p++) {
    for (long r = 0; r < MR; r++)
      for (long j = 0; j < NR; j++) acc[r][j] += a[r] * b[j];
    a += MR;
    b += NR;
  }
  for (long r = 0; r < MR; r++)
    for (long j = 0; j < NR; j++) c[r * ldc + j] += acc[r][j];
}
#endif

// A rows [ic, ic+mc) x k [pc, pc+kc) into MR-row panels, k-major, zero-padded to MR rows.
void pack_a(float* dst, const Gemm& g, long ic, long mc, long pc, long kc) {
  for (long ir = 0; ir < mc; ir += MR, dst += MR * kc) {
    const long mr = std::min(MR, mc - ir);
    if (g.a_cs == 1) {
      for (long r = 0; r < MR; r++) {
        if (r >= mr) {
          for (long k = 0; k < kc; k++) dst[k * MR + r] = 0;
          continue;
        }
        const float* src = g.A + (ic + ir + r) * g.a_rs + pc;
        for (long k = 0; k < kc; k++) dst[k * MR + r] = src[k];
      }
    } else {
      for (long k = 0; k < kc; k++) {
        const float* src = g.A + (pc + k) * g.a_cs + ic + ir;
        for (long r = 0; r < MR; r++) dst[k * MR + r] = r < mr ? src[r] : 0;
      }
    }
  }
}

// B k [pc, pc+kc) x columns [jc, jc+nc) into NR-column panels, k-major, zero-padded to NR columns.
// Triangular kinds write zeros in the masked-out entries of the panels that straddle the diagonal
// and leave unwritten the k-ranges that k_range() never lets the micro-kernel read.
void pack_b(float* dst, const Gemm& g, long jc, long nc, long pc, long kc) {
  for (long jr = 0; jr < nc; jr += NR, dst += NR * kc) {
    const long nr = std::min(NR, nc - jr), j0 = jc + jr;
    switch (g.bk) {
      case BKind::RowMajor:
        for (long k = 0; k < kc; k++) {
          const float* src = g.B + (pc + k) * g.ldb + j0;
          for (long j = 0; j < NR; j++) dst[k * NR + j] = j < nr ? src[j] : 0;
        }
        break;
      case BKind::ColMajor:
        for (long j = 0; j < NR; j++) {
          if (j >= nr) {
            for (long k = 0; k < kc; k++) dst[k * NR + j] = 0;
            continue;
          }
          const float* src = g.B + (j0 + j) * g.ldb + pc;
          for (long k = 0; k < kc; k++) dst[k * NR + j] = src[k];
        }
        break;
      case BKind::TriByOut: {
        const long kend = std::min(kc, j0 + nr - pc);  // the micro-kernel reads k < kend
        for (long j = 0; j < NR; j++) {
          const long o = j0 + j;
          const long kvalid = j < nr ? std::max(0L, std::min(kend, o - pc + 1)) : 0;
          const float* src = g.B + tri(o) + pc;
          for (long k = 0; k < kvalid; k++) dst[k * NR + j] = src[k];
          for (long k = kvalid; k < kend; k++) dst[k * NR + j] = 0;
        }
        break;
      }
      case BKind::TriByIn:
        for (long k = std::max(0L, j0 - pc); k < kc; k++) {  // the micro-kernel reads k >= j0 - pc
          const long o = pc + k;
          const float* src = g.B + tri(o);
          for (long j = 0; j < NR; j++) dst[k * NR + j] = (j < nr && j0 + j <= o) ? src[j0 + j] : 0;
        }
        break;
    }
  }
}

// The k-range [k0, k1) of block (pc, kc) that can be nonzero for the tile at (i0, j0).
inline void k_range(const Gemm& g, long i0, long mr, long j0, long nr, long pc, long kc, long* k0, long* k1) {
  *k0 = 0;
  *k1 = kc;
  if (g.bk == BKind::TriByOut) *k1 = std::min(kc, j0 + nr - pc);
  if (g.bk == BKind::TriByIn) *k0 = std::max(0L, j0 - pc);
  if (g.ck == CKind::TriPacked && j0 > i0 + mr - 1) *k1 = 0;
}

// Whether block (pc, kc) x columns [jc, jc+nc) holds any unmasked entry of B.
inline bool b_block_needed(const Gemm& g, long jc, long nc, long pc, long kc) {
  if (g.bk == BKind::TriByOut) return pc <= jc + nc - 1;
  if (g.bk == BKind::TriByIn) return pc + kc - 1 >= jc;
  return true;
}

void tile(const Gemm& g, const float* a, const float* b, long k, long i0, long mr, long j0, long nr) {
  if (g.ck == CKind::Dense && mr == MR && nr == NR) {
    micro_kernel(k, a, b, g.C + i0 * g.ldc + j0, g.ldc);
    return;
  }
  alignas(64) float tmp[MR * NR] = {};
  micro_kernel(k, a, b, tmp, NR);
  for (long r = 0; r < mr; r++) {
    if (g.ck == CKind::Dense) {
      float* row = g.C + (i0 + r) * g.ldc + j0;
      for (long j = 0; j < nr; j++) row[j] += tmp[r * NR + j];
    } else if (nr == NR && j0 + NR - 1 <= i0) {
      // whole tile on or below the diagonal: each row is one contiguous run, a fixed-length (vector) add
      float* row = g.C + tri(i0 + r) + j0;
      for (long j = 0; j < NR; j++) row[j] += tmp[r * NR + j];
    } else {
      const long o = i0 + r;
      float* row = g.C + tri(o);
      for (long j = 0; j < nr && j0 + j <= o; j++) row[j0 + j] += tmp[r * NR + j];
    }
  }
}

float* aligned_buffer(long floats) {
  return static_cast<float*>(std::aligned_alloc(64, ((floats * sizeof(float) + 63) / 64) * 64));
}

// One thread's share: output rows [m0, m1) x columns [n0, n1).
void gemm_range(const Gemm& g, long m0, long m1, long n0, long n1) {
  // Per-thread packing buffers, allocated once per thread and kept.
  thread_local float* Ap = aligned_buffer(MC * KC);
  thread_local float* Bp = aligned_buffer(KC * NC);
  for (long jc = n0; jc < n1; jc += NC) {
    const long nc = std::min(NC, n1 - jc);
    for (long pc = 0; pc < g.K; pc += KC) {
      const long kc = std::min(KC, g.K - pc);
      if (!b_block_needed(g, jc, nc, pc, kc)) continue;
      pack_b(Bp, g, jc, nc, pc, kc);
      for (long ic = m0; ic < m1; ic += MC) {
        const long mc = std::min(MC, m1 - ic);
        if (g.ck == CKind::TriPacked && jc > ic + mc - 1) continue;
        pack_a(Ap, g, ic, mc, pc, kc);
        for (long jr = 0; jr < nc; jr += NR) {
          const long nr = std::min(NR, nc - jr);
          for (long ir = 0; ir < mc; ir += MR) {
            const long mr = std::min(MR, mc - ir);
            long k0, k1;
            k_range(g, ic + ir, mr, jc + jr, nr, pc, kc, &k0, &k1);
            if (k0 >= k1) continue;
            tile(g, Ap + ir * kc + k0 * MR, Bp + jr * kc + k0 * NR, k1 - k0, ic + ir, mr, jc + jr, nr);
          }
        }
      }
    }
  }
}

// Where thread t's slice of [0, total) starts when the work per index is uniform, grows like the
// index (triangle rows/columns that see more inputs as they go), or shrinks like it; aligned to `align`.
enum class Work { Uniform, Growing, Shrinking };
long slice_start(long total, int n, int t, Work w, long align) {
  if (t == 0) return 0;
  if (t == n) return total;
  const double f = static_cast<double>(t) / n;
  double x = total * f;
  if (w == Work::Growing) x = total * std::sqrt(f);
  if (w == Work::Shrinking) x = total * (1 - std::sqrt(1 - f));
  const long a = (static_cast<long>(x) + align / 2) / align * align;
  return std::min(total, std::max(0L, a));
}

// Runs the product on the pool: split along M or N (split_m), with the given work profile.
void gemm(const Gemm& g, bool split_m, Work w) {
  const double flops = 2.0 * g.M * g.N * g.K;
  const long units = split_m ? g.M / MR : g.N / NR;
  int n = flops < (1 << 22) ? 1 : pool_size();
  n = static_cast<int>(std::max(1L, std::min<long>(n, units)));
  pool_run(n, [&](int t) {
    if (split_m) {
      gemm_range(g, slice_start(g.M, n, t, w, MR), slice_start(g.M, n, t + 1, w, MR), 0, g.N);
    } else {
      gemm_range(g, 0, g.M, slice_start(g.N, n, t, w, NR), slice_start(g.N, n, t + 1, w, NR));
    }
  });
}

void scale(float* C, long n, float beta) {
  if (beta == 1) return;
  if (beta == 0) {
    std::memset(C, 0, n * sizeof(float));
    return;
  }
  for (long i = 0; i < n; i++) C[i] *= beta;
}

}  // namespace

void matmulNN(float* C, const float* A, const float* B, long M, long K, long N, float beta) {
  scale(C, M * N, beta);
  gemm({A, K, 1, B, N, BKind::RowMajor, C, N, CKind::Dense, M, N, K}, N < M, Work::Uniform);
}

void matmulNT(float* C, const float* A, const float* B, long M, long K, long N, float beta) {
  scale(C, M * N, beta);
  gemm({A, K, 1, B, K, BKind::ColMajor, C, N, CKind::Dense, M, N, K}, N < M, Work::Uniform);
}

void matmulTN(float* C, const float* A, const float* B, long M, long K, long N, float beta) {
  scale(C, M * N, beta);
  gemm({A, 1, M, B, N, BKind::RowMajor, C, N, CKind::Dense, M, N, K}, N < M, Work::Uniform);
}

// Y[M,D] = X[M,D] @ tri(W)^T: output column o sees inputs 0..o, so later columns cost more.
void triForward(float* Y, const float* X, const float* Wp, long M, long D, float beta) {
  scale(Y, M * D, beta);
  gemm({X, D, 1, Wp, 0, BKind::TriByOut, Y, D, CKind::Dense, M, D, D}, false, Work::Growing);
}

// dX[M,D] += dY[M,D] @ tri(W): input column i gathers from outputs i..D-1, so earlier columns cost more.
void triBackwardInput(float* dX, const float* dY, const float* Wp, long M, long D) {
  gemm({dY, D, 1, Wp, 0, BKind::TriByIn, dX, D, CKind::Dense, M, D, D}, false, Work::Shrinking);
}

// dWp += tri(dY^T @ X): packed row o has o+1 entries, so later rows cost more.
void triBackwardWeight(float* dWp, const float* dY, const float* X, long M, long D) {
  gemm({dY, 1, D, X, D, BKind::RowMajor, dWp, 0, CKind::TriPacked, D, D, M}, true, Work::Growing);
}

}  // namespace halo::HALO_ISA

#include "isa_end.h"
