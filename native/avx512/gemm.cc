// The AVX-512 build of ../gemm.cc (namespace halo::avx512), chosen at run time by dispatch.cc.
#define HALO_AVX512 1
#include "../gemm.cc"
