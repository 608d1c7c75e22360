// Closes the region opened by isa_begin.h.
#if defined(HALO_AVX512) && defined(__clang__)
#pragma clang attribute pop
#elif defined(HALO_AVX512)
#pragma GCC pop_options
#endif
