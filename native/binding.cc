// N-API glue: unwraps typed arrays and numbers and calls the kernels in kernels.h.
// Arguments were validated by src/tensor/kernels-native.ts (types, lengths, sizes); this layer
// trusts them, as better-sqlite3 and sharp trust their JavaScript side.
#include <napi.h>

#include <cstdlib>

#include "dispatch.h"
#include "thread_pool.h"

#if !defined(HALO_EHR_VERSION) || !defined(HALO_SOURCE_HASH)
#error "binding.gyp defines HALO_EHR_VERSION and HALO_SOURCE_HASH"
#endif
#define HALO_STR2(x) #x
#define HALO_STR(x) HALO_STR2(x)

namespace {

// The kernels chosen for this CPU at load (Init).
const halo::KernelTable* K = nullptr;

float* F(const Napi::CallbackInfo& info, int i) { return info[i].As<Napi::Float32Array>().Data(); }
float* FOrNull(const Napi::CallbackInfo& info, int i) { return info[i].IsNull() ? nullptr : F(info, i); }
int32_t* I(const Napi::CallbackInfo& info, int i) { return info[i].As<Napi::Int32Array>().Data(); }
long L(const Napi::CallbackInfo& info, int i) { return static_cast<long>(info[i].As<Napi::Number>().Int64Value()); }
float R(const Napi::CallbackInfo& info, int i) { return info[i].As<Napi::Number>().FloatValue(); }

Napi::Value MatmulNN(const Napi::CallbackInfo& i) {
  K->matmulNN(F(i, 0), F(i, 1), F(i, 2), L(i, 3), L(i, 4), L(i, 5), R(i, 6));
  return i.Env().Undefined();
}
Napi::Value MatmulNT(const Napi::CallbackInfo& i) {
  K->matmulNT(F(i, 0), F(i, 1), F(i, 2), L(i, 3), L(i, 4), L(i, 5), R(i, 6));
  return i.Env().Undefined();
}
Napi::Value MatmulTN(const Napi::CallbackInfo& i) {
  K->matmulTN(F(i, 0), F(i, 1), F(i, 2), L(i, 3), L(i, 4), L(i, 5), R(i, 6));
  return i.Env().Undefined();
}
Napi::Value TriForward(const Napi::CallbackInfo& i) {
  K->triForward(F(i, 0), F(i, 1), F(i, 2), L(i, 3), L(i, 4), R(i, 5));
  return i.Env().Undefined();
}
Napi::Value TriBackwardInput(const Napi::CallbackInfo& i) {
  K->triBackwardInput(F(i, 0), F(i, 1), F(i, 2), L(i, 3), L(i, 4));
  return i.Env().Undefined();
}
Napi::Value TriBackwardWeight(const Napi::CallbackInfo& i) {
  K->triBackwardWeight(F(i, 0), F(i, 1), F(i, 2), L(i, 3), L(i, 4));
  return i.Env().Undefined();
}
Napi::Value EmbeddingBagForward(const Napi::CallbackInfo& i) {
  K->embeddingBagForward(F(i, 0), I(i, 1), I(i, 2), F(i, 3), L(i, 4), L(i, 5), R(i, 6));
  return i.Env().Undefined();
}
Napi::Value EmbeddingBagBackward(const Napi::CallbackInfo& i) {
  K->embeddingBagBackward(F(i, 0), F(i, 1), I(i, 2), I(i, 3), L(i, 4), L(i, 5));
  return i.Env().Undefined();
}
Napi::Value LayernormForward(const Napi::CallbackInfo& i) {
  K->layernormForward(F(i, 0), F(i, 1), F(i, 2), F(i, 3), F(i, 4), F(i, 5), L(i, 6), L(i, 7));
  return i.Env().Undefined();
}
Napi::Value LayernormBackward(const Napi::CallbackInfo& i) {
  K->layernormBackward(F(i, 0), F(i, 1), F(i, 2), F(i, 3), F(i, 4), F(i, 5), F(i, 6), F(i, 7), L(i, 8), L(i, 9));
  return i.Env().Undefined();
}
Napi::Value GeluForward(const Napi::CallbackInfo& i) {
  K->geluForward(F(i, 0), F(i, 1), L(i, 2));
  return i.Env().Undefined();
}
Napi::Value GeluBackward(const Napi::CallbackInfo& i) {
  K->geluBackward(F(i, 0), F(i, 1), F(i, 2), L(i, 3));
  return i.Env().Undefined();
}
Napi::Value ReluForward(const Napi::CallbackInfo& i) {
  K->reluForward(F(i, 0), F(i, 1), L(i, 2));
  return i.Env().Undefined();
}
Napi::Value ReluBackward(const Napi::CallbackInfo& i) {
  K->reluBackward(F(i, 0), F(i, 1), F(i, 2), L(i, 3));
  return i.Env().Undefined();
}
Napi::Value AddInPlace(const Napi::CallbackInfo& i) {
  K->addInPlace(F(i, 0), F(i, 1), L(i, 2));
  return i.Env().Undefined();
}
Napi::Value BiasAddForward(const Napi::CallbackInfo& i) {
  K->biasAddForward(F(i, 0), F(i, 1), L(i, 2), L(i, 3));
  return i.Env().Undefined();
}
Napi::Value BiasAddBackward(const Napi::CallbackInfo& i) {
  K->biasAddBackward(F(i, 0), F(i, 1), L(i, 2), L(i, 3));
  return i.Env().Undefined();
}
Napi::Value AttentionForward(const Napi::CallbackInfo& i) {
  K->attentionForward(F(i, 0), F(i, 1), F(i, 2), L(i, 3), L(i, 4), L(i, 5), L(i, 6));
  return i.Env().Undefined();
}
Napi::Value AttentionBackward(const Napi::CallbackInfo& i) {
  K->attentionBackward(F(i, 0), F(i, 1), F(i, 2), F(i, 3), L(i, 4), L(i, 5), L(i, 6), L(i, 7));
  return i.Env().Undefined();
}
Napi::Value SigmoidBce(const Napi::CallbackInfo& i) {
  const double loss = K->sigmoidBce(F(i, 0), F(i, 1), F(i, 2), F(i, 3), L(i, 4), L(i, 5), R(i, 6));
  return Napi::Number::New(i.Env(), loss);
}
Napi::Value AdamStep(const Napi::CallbackInfo& i) {
  K->adamStep(F(i, 0), F(i, 1), F(i, 2), F(i, 3), L(i, 4), R(i, 5), R(i, 6), R(i, 7), R(i, 8), R(i, 9), L(i, 10));
  return i.Env().Undefined();
}
Napi::Value EmaUpdate(const Napi::CallbackInfo& i) {
  K->emaUpdate(F(i, 0), F(i, 1), L(i, 2), R(i, 3));
  return i.Env().Undefined();
}
Napi::Value MadeSampleRow(const Napi::CallbackInfo& i) {
  const int8_t* fixed = i[7].IsNull() ? nullptr : i[7].As<Napi::Int8Array>().Data();
  const int32_t* group = i[11].IsNull() ? nullptr : i[11].As<Napi::Int32Array>().Data();
  const uint8_t* required = i[12].IsNull() ? nullptr : i[12].As<Napi::Uint8Array>().Data();
  const int8_t* era = i[13].IsNull() ? nullptr : i[13].As<Napi::Int8Array>().Data();
  K->madeSampleRow(F(i, 0), FOrNull(i, 1), F(i, 2), F(i, 3), F(i, 4), F(i, 5), F(i, 6), fixed, L(i, 8), L(i, 9),
                      L(i, 10), group, required, era);
  return i.Env().Undefined();
}
Napi::Value PeakGflops(const Napi::CallbackInfo& i) {
  return Napi::Number::New(i.Env(), K->peakGflops(i[0].As<Napi::Number>().DoubleValue()));
}
Napi::Value ThreadCount(const Napi::CallbackInfo& i) { return Napi::Number::New(i.Env(), halo::pool_size()); }

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  const char* why = "";
  K = halo::select_kernels(std::getenv("HALO_EHR_NATIVE_ISA"), &why);
  if (K == nullptr) {
    Napi::Error::New(env, why).ThrowAsJavaScriptException();
    return exports;
  }
  const struct {
    const char* name;
    Napi::Value (*fn)(const Napi::CallbackInfo&);
  } table[] = {
      {"matmulNN", MatmulNN},
      {"matmulNT", MatmulNT},
      {"matmulTN", MatmulTN},
      {"triForward", TriForward},
      {"triBackwardInput", TriBackwardInput},
      {"triBackwardWeight", TriBackwardWeight},
      {"embeddingBagForward", EmbeddingBagForward},
      {"embeddingBagBackward", EmbeddingBagBackward},
      {"layernormForward", LayernormForward},
      {"layernormBackward", LayernormBackward},
      {"geluForward", GeluForward},
      {"geluBackward", GeluBackward},
      {"reluForward", ReluForward},
      {"reluBackward", ReluBackward},
      {"addInPlace", AddInPlace},
      {"biasAddForward", BiasAddForward},
      {"biasAddBackward", BiasAddBackward},
      {"attentionForward", AttentionForward},
      {"attentionBackward", AttentionBackward},
      {"sigmoidBce", SigmoidBce},
      {"adamStep", AdamStep},
      {"emaUpdate", EmaUpdate},
      {"madeSampleRow", MadeSampleRow},
      {"peakGflops", PeakGflops},
      {"threadCount", ThreadCount},
  };
  for (const auto& e : table) exports.Set(e.name, Napi::Function::New(env, e.fn, e.name));
  // What src/tensor/kernels-native.ts checks before using the addon: the package version and the hash
  // of the native sources it was built from (binding.gyp), so a stale build is refused, not used.
  exports.Set("version", Napi::String::New(env, HALO_STR(HALO_EHR_VERSION)));
  exports.Set("sourceHash", Napi::String::New(env, HALO_STR(HALO_SOURCE_HASH)));
  exports.Set("isa", Napi::String::New(env, K->isa));
  return exports;
}

}  // namespace

NODE_API_MODULE(halo_native, Init)
