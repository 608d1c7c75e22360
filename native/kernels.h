// The native kernels as plain C++ over raw pointers, one declaration per op of the Kernels
// contract (src/tensor/kernel-api.ts), same names and argument order. Sizes and lengths are
// validated by src/tensor/kernels-native.ts before any of these run.
// Each instruction set's build of the kernels lives in its own namespace halo::HALO_ISA (see isa.h),
// so there is no include guard: dispatch.cc declares every compiled set by including this once per set.
#include <cstdint>

#ifndef HALO_ISA
#error "define HALO_ISA (include isa.h) before kernels.h"
#endif

namespace halo::HALO_ISA {

// ---- gemm.cc: dense and lower-triangular matrix products ----
void matmulNN(float* C, const float* A, const float* B, long M, long K, long N, float beta);
void matmulNT(float* C, const float* A, const float* B, long M, long K, long N, float beta);
void matmulTN(float* C, const float* A, const float* B, long M, long K, long N, float beta);
void triForward(float* Y, const float* X, const float* Wp, long M, long D, float beta);
void triBackwardInput(float* dX, const float* dY, const float* Wp, long M, long D);
void triBackwardWeight(float* dWp, const float* dY, const float* X, long M, long D);

// ---- ops.cc: everything else the model trains with ----
void embeddingBagForward(float* out, const int32_t* idx, const int32_t* off, const float* W, long N, long C, float beta);
void embeddingBagBackward(float* dW, const float* dout, const int32_t* idx, const int32_t* off, long N, long C);
void layernormForward(float* out, float* mean, float* rstd, const float* inp, const float* w, const float* b, long N,
                      long C);
void layernormBackward(float* dinp, float* dw, float* db, const float* dout, const float* inp, const float* w,
                       const float* mean, const float* rstd, long N, long C);
void geluForward(float* out, const float* inp, long n);
void geluBackward(float* dinp, const float* inp, const float* dout, long n);
void reluForward(float* out, const float* inp, long n);
void reluBackward(float* dinp, const float* inp, const float* dout, long n);
void addInPlace(float* a, const float* b, long n);
void biasAddForward(float* out, const float* bias, long N, long C);
void biasAddBackward(float* dbias, const float* dout, long N, long C);
void attentionForward(float* out, float* att, const float* qkv, long B, long T, long C, long NH);
void attentionBackward(float* dqkv, const float* dout, const float* qkv, const float* att, long B, long T, long C,
                       long NH);
double sigmoidBce(float* dlogits, const float* logits, const float* targets, const float* rowMask, long N, long V,
                  float scale);
void adamStep(float* p, const float* g, float* m, float* v, long n, float lr, float beta1, float beta2, float eps,
              float wd, long t);
void emaUpdate(float* avg, const float* p, long n, float w);
double peakGflops(double seconds);

// ---- sample.cc: incremental fill of one visit row through the masked head ----
// group, required, era: RowRules of src/tensor/kernel-api.ts, each may be null (plain HALO draws).
void madeSampleRow(float* x, float* probs, float* a1, const float* W1p, const float* W2p, const float* b2,
                   const float* uniforms, const int8_t* fixed, long B, long d, long V, const int32_t* group,
                   const uint8_t* required, const int8_t* era);

// ---- shared helpers ----
// sum_{t<n} a[t]*b[t] (vectorised, 4 accumulators).
float dot(const float* a, const float* b, long n);
// y[t] += alpha * x[t]
void axpy(float* y, float alpha, const float* x, long n);

}  // namespace halo::HALO_ISA
