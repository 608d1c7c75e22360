// Run-time choice of the kernels' instruction set (see isa.h). This file is compiled for the
// baseline; it only takes the addresses of each set's kernels.
#include "dispatch.h"  // declares the baseline set (avx2 on x86-64, generic elsewhere)

#include <cstring>

#if defined(__x86_64__)
#undef HALO_ISA
#define HALO_ISA avx512
#include "kernels.h"
#endif

namespace halo {
namespace {

#if defined(__x86_64__)
#define HALO_ENTRY_AVX2(f) &avx2::f,
const KernelTable avx2_table = {"avx2", HALO_KERNEL_NAMES(HALO_ENTRY_AVX2)};
#define HALO_ENTRY_AVX512(f) &avx512::f,
const KernelTable avx512_table = {"avx512", HALO_KERNEL_NAMES(HALO_ENTRY_AVX512)};

// The features isa_begin.h enables for the AVX-512 build.
bool cpu_has_avx512() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
         __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
         __builtin_cpu_supports("avx512cd");
}
bool cpu_has_avx2() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}
#else
#define HALO_ENTRY_GENERIC(f) &generic::f,
const KernelTable generic_table = {"generic", HALO_KERNEL_NAMES(HALO_ENTRY_GENERIC)};
#endif

}  // namespace

const KernelTable* select_kernels(const char* wanted, const char** why) {
  const bool any = wanted == nullptr || *wanted == '\0';
#if defined(__x86_64__)
  if (!cpu_has_avx2()) {
    *why = "this CPU lacks AVX2 or FMA, which the x86-64 build of the addon requires";
    return nullptr;
  }
  if ((any || std::strcmp(wanted, "avx512") == 0) && cpu_has_avx512()) return &avx512_table;
  if (any || std::strcmp(wanted, "avx2") == 0) return &avx2_table;
  *why = std::strcmp(wanted, "avx512") == 0 ? "HALO_EHR_NATIVE_ISA=avx512 but this CPU lacks AVX-512 (F, DQ, BW, VL, CD)"
                                            : "HALO_EHR_NATIVE_ISA must be avx512 or avx2 on x86-64";
  return nullptr;
#else
  if (any || std::strcmp(wanted, "generic") == 0) return &generic_table;
  *why = "HALO_EHR_NATIVE_ISA must be generic on this architecture";
  return nullptr;
#endif
}

}  // namespace halo
