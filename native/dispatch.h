// One table of kernel entry points per compiled instruction set, and the choice among them.
#pragma once
#include "isa.h"
#include "kernels.h"

namespace halo {

// Every kernel of kernels.h, once: the table's members and each set's entries come from this list.
#define HALO_KERNEL_NAMES(X)                                                                               \
  X(matmulNN) X(matmulNT) X(matmulTN) X(triForward) X(triBackwardInput) X(triBackwardWeight)               \
  X(embeddingBagForward) X(embeddingBagBackward) X(layernormForward) X(layernormBackward) X(geluForward)   \
  X(geluBackward) X(reluForward) X(reluBackward) X(addInPlace) X(biasAddForward) X(biasAddBackward)        \
  X(attentionForward) X(attentionBackward) X(sigmoidBce) X(adamStep) X(emaUpdate) X(peakGflops) X(madeSampleRow)

struct KernelTable {
  const char* isa;
#define HALO_MEMBER(f) decltype(&HALO_ISA::f) f;
  HALO_KERNEL_NAMES(HALO_MEMBER)
#undef HALO_MEMBER
};

// The kernels for this CPU: AVX-512 when the CPU has every feature the AVX-512 build uses, else the
// baseline. `wanted` (HALO_EHR_NATIVE_ISA: "avx512", "avx2" or "generic"; null or empty for the best)
// forces one; nullptr comes back when that set was not compiled in or the CPU lacks it, and `why` says which.
const KernelTable* select_kernels(const char* wanted, const char** why);

}  // namespace halo
