{
  "targets": [
    {
      "target_name": "halo_native",
      "sources": [
        "native/binding.cc",
        "native/dispatch.cc",
        "native/gemm.cc",
        "native/ops.cc",
        "native/sample.cc",
        "native/thread_pool.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": [
        "NAPI_VERSION=8",
        "NAPI_DISABLE_CPP_EXCEPTIONS",
        "HALO_EHR_VERSION=<!(node -p \"require('./package.json').version\")",
        "HALO_SOURCE_HASH=<!(node native/source-hash.mjs)"
      ],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions", "-std=gnu++17", "-std=gnu++20"],
      "cflags_cc": ["-std=c++17", "-O3", "-pthread"],
      "ldflags": ["-pthread"],
      "xcode_settings": {
        "CLANG_CXX_LANGUAGE_STANDARD": "c++17",
        "OTHER_CPLUSPLUSFLAGS": ["-O3"]
      },
      "conditions": [
        [
          "target_arch=='x64'",
          {
            "comment": "Baseline AVX2+FMA (any x86-64 since 2013); the AVX-512 kernels are chosen at run time (native/isa.h).",
            "sources": ["native/avx512/gemm.cc", "native/avx512/ops.cc", "native/avx512/sample.cc"],
            "cflags_cc": ["-mavx2", "-mfma"],
            "xcode_settings": { "OTHER_CPLUSPLUSFLAGS": ["-mavx2", "-mfma"] }
          }
        ]
      ]
    }
  ]
}
