// C ABI of the torch shim. Every function returns 0 on success and 1 on failure; on failure
// ts_last_error() (thread-local) holds libtorch's message. Tensors cross the boundary as opaque
// handles (heap-allocated at::Tensor), freed exactly once with ts_free.
#pragma once
#include <cstdint>
#include <string>
#include <torch/torch.h>

#define TS_API extern "C" __attribute__((visibility("default"))) int

namespace ts {
extern thread_local std::string last_error;
inline at::Tensor& R(void* h) { return *static_cast<at::Tensor*>(h); }
inline void* W(at::Tensor t) { return new at::Tensor(std::move(t)); }
inline c10::optional<at::Tensor> opt(void* h) {
  return h ? c10::optional<at::Tensor>(R(h)) : c10::nullopt;
}
inline at::Generator* gen(void* g) { return static_cast<at::Generator*>(g); }
inline c10::optional<at::Generator> optgen(void* g) {
  return g ? c10::optional<at::Generator>(*gen(g)) : c10::nullopt;
}
}  // namespace ts

#define TS_TRY try {
#define TS_CATCH                                                    \
  return 0;                                                         \
  }                                                                 \
  catch (const c10::Error& e) {                                     \
    ts::last_error = e.what_without_backtrace();                    \
    return 1;                                                       \
  }                                                                 \
  catch (const std::exception& e) {                                 \
    ts::last_error = e.what();                                      \
    return 1;                                                       \
  }                                                                 \
  catch (...) {                                                     \
    ts::last_error = "unknown C++ exception in torch shim";         \
    return 1;                                                       \
  }
