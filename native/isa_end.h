// Closes the region opened by isa_begin.h.
#if defined(HALO_AVX512) && defined(__x86_64__)
#pragma GCC pop_options
#endif
