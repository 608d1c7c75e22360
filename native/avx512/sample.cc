// The AVX-512 build of ../sample.cc (namespace halo::avx512), chosen at run time by dispatch.cc.
#define HALO_AVX512 1
#include "../sample.cc"
