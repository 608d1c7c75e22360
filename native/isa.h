// The instruction set the kernels of this translation unit are compiled for, which is also the
// namespace they live in (halo::avx512, halo::avx2 or halo::generic), so one addon can hold several
// builds of the same sources and pick one at run time (dispatch.cc).
// x86-64: every file is compiled with -mavx2 -mfma (the baseline, binding.gyp); the files under
// native/avx512/ compile the same sources again with AVX-512 enabled by isa_begin.h. The kernels test
// HALO_AVX512, not __AVX512F__, to pick their AVX-512 code: g++ does not define __AVX512F__ inside a
// `#pragma GCC target` region.
// Elsewhere (arm64): plain C++ only, no x86 intrinsics.
#pragma once

#if defined(HALO_AVX512) && !defined(__x86_64__)
#error "native/avx512/ is for x86-64 only (binding.gyp)"
#elif defined(HALO_AVX512)
#define HALO_ISA avx512
#elif defined(__AVX2__) && defined(__FMA__)
#define HALO_ISA avx2
#else
#define HALO_ISA generic
#endif
