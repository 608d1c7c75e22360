// Opens the region compiled for HALO_ISA. Include it after every standard and intrinsics header:
// code from headers (std::vector, std::function, thread_pool.h's inline helpers) must stay compiled
// for the baseline, or the linker could keep an AVX-512 copy of a shared inline function and the
// baseline path would then crash with an illegal instruction on a CPU without AVX-512.
// The features are those dispatch.cc checks with __builtin_cpu_supports.
#if defined(HALO_AVX512) && defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,fma,avx512f,avx512dq,avx512bw,avx512vl,avx512cd"))), \
                             apply_to = function)
#elif defined(HALO_AVX512)
#pragma GCC push_options
#pragma GCC target("avx2,fma,avx512f,avx512dq,avx512bw,avx512vl,avx512cd")
#endif
