// Infrastructure part of the shim: errors, lifetime, metadata, creation, autograd, RNG, threads,
// optimizers. Operators live in ops.cpp behind one dispatcher.
#include "shim.h"

#include <ATen/Parallel.h>
#include <cstring>

namespace ts {
thread_local std::string last_error;
}
using namespace ts;

extern "C" __attribute__((visibility("default"))) const char* ts_last_error() {
  return last_error.c_str();
}

TS_API ts_free(void* t) {
  TS_TRY delete static_cast<at::Tensor*>(t);
  TS_CATCH
}

// A second handle to the same tensor (same TensorImpl): used for Parameters and shallow copies.
TS_API ts_alias(void* t, void** out) {
  TS_TRY* out = W(R(t));
  TS_CATCH
}

// meta: [ndim, dtype, device type, device index, requires_grad, numel, is_leaf, defined, is_contiguous]
TS_API ts_meta(void* h, int64_t* meta, int64_t* shape, int cap) {
  TS_TRY auto& t = R(h);
  meta[7] = t.defined();
  if (!t.defined()) return 0;
  meta[0] = t.dim();
  meta[1] = static_cast<int64_t>(t.scalar_type());
  meta[2] = static_cast<int64_t>(t.device().type());
  meta[3] = t.device().index();
  meta[4] = t.requires_grad();
  meta[5] = t.numel();
  meta[6] = t.is_leaf();
  meta[8] = t.is_contiguous();
  for (int64_t i = 0; i < t.dim() && i < cap; i++) shape[i] = t.size(i);
  TS_CATCH
}

static at::TensorOptions options(int dtype, int devtype, int devidx, int requires_grad) {
  auto o = at::TensorOptions().dtype(static_cast<at::ScalarType>(dtype));
  o = o.device(c10::Device(static_cast<c10::DeviceType>(devtype), static_cast<c10::DeviceIndex>(devidx)));
  return o.requires_grad(requires_grad != 0);
}

enum NewKind { EMPTY = 0, ZEROS, ONES, FULL, RAND, RANDN, RANDINT, ARANGE, LINSPACE, EYE };

// Factory functions. args: FULL {value}, RANDINT {low, high}, ARANGE {start, end, step},
// LINSPACE {start, end, steps}, EYE {n, m}. Random kinds use gen when given, else the default generator.
TS_API ts_new(int kind, const int64_t* shape, int nshape, int dtype, int devtype, int devidx,
              int requires_grad, const double* a, int na, void* g, void** out) {
  TS_TRY auto o = options(dtype, devtype, devidx, 0);
  at::IntArrayRef sz(shape, nshape);
  at::Tensor t;
  switch (kind) {
    case EMPTY: t = at::empty(sz, o); break;
    case ZEROS: t = at::zeros(sz, o); break;
    case ONES: t = at::ones(sz, o); break;
    case FULL: t = at::full(sz, a[0], o); break;
    case RAND: t = at::rand(sz, optgen(g), o); break;
    case RANDN: t = at::randn(sz, optgen(g), o); break;
    case RANDINT: t = at::randint(static_cast<int64_t>(a[0]), static_cast<int64_t>(a[1]), sz, optgen(g), o); break;
    case ARANGE: t = at::arange(a[0], a[1], a[2], o); break;
    case LINSPACE: t = at::linspace(a[0], a[1], static_cast<int64_t>(a[2]), o); break;
    case EYE: t = at::eye(static_cast<int64_t>(a[0]), static_cast<int64_t>(a[1]), o); break;
    default: throw std::invalid_argument("ts_new: unknown kind " + std::to_string(kind));
  }
  if (requires_grad) t.requires_grad_(true);
  *out = W(std::move(t));
  TS_CATCH
}

// Copies nbytes from data (C-contiguous, element type dtype) into a new tensor on the device.
TS_API ts_from_data(const void* data, int64_t nbytes, const int64_t* shape, int nshape, int dtype,
                    int devtype, int devidx, int requires_grad, void** out) {
  TS_TRY auto t = at::empty(at::IntArrayRef(shape, nshape), options(dtype, 0, -1, 0));
  int64_t need = t.numel() * static_cast<int64_t>(t.element_size());
  TORCH_CHECK(need == nbytes, "tensor data has ", nbytes, " bytes, shape ", t.sizes(), " of ",
              t.scalar_type(), " needs ", need);
  if (nbytes) std::memcpy(t.data_ptr(), data, nbytes);
  if (devtype != 0) t = t.to(c10::Device(static_cast<c10::DeviceType>(devtype), static_cast<c10::DeviceIndex>(devidx)));
  if (requires_grad) t.requires_grad_(true);
  *out = W(std::move(t));
  TS_CATCH
}

// Copies the tensor's elements (converted to dtype unless dtype < 0) into dst, C-contiguous.
TS_API ts_copy_out(void* h, int dtype, void* dst, int64_t nbytes) {
  TS_TRY at::NoGradGuard ng;
  auto t = R(h).detach();
  if (dtype >= 0 && t.scalar_type() != static_cast<at::ScalarType>(dtype))
    t = t.to(static_cast<at::ScalarType>(dtype));
  t = t.to(at::kCPU).contiguous();
  int64_t have = t.numel() * static_cast<int64_t>(t.element_size());
  TORCH_CHECK(have == nbytes, "copy_out: destination has ", nbytes, " bytes, tensor has ", have);
  if (nbytes) std::memcpy(dst, t.data_ptr(), nbytes);
  TS_CATCH
}

// Pointer to the data of a CPU tensor (null when it is not contiguous); dtype >= 0 must match.
TS_API ts_data_ptr(void* h, int dtype, void** out) {
  TS_TRY auto& t = R(h);
  TORCH_CHECK(t.device().is_cpu(), "data_ptr: tensor is on ", t.device(), ", not the CPU");
  if (dtype >= 0) {
    auto want = static_cast<at::ScalarType>(dtype);
    TORCH_CHECK_TYPE(t.scalar_type() == want, "expected scalar type ", want, " but found ", t.scalar_type());
  }
  *out = t.is_contiguous() ? t.data_ptr() : nullptr;
  TS_CATCH
}

TS_API ts_item(void* h, double* d, int64_t* i) {
  TS_TRY auto s = R(h).item();
  if (s.isFloatingPoint()) { *d = s.toDouble(); *i = static_cast<int64_t>(*d); }
  else { *i = s.toLong(); *d = static_cast<double>(*i); }
  TS_CATCH
}

// ---- autograd ----
TS_API ts_backward(void* h, void* grad, int retain_graph, int create_graph) {
  TS_TRY R(h).backward(grad ? R(grad) : at::Tensor(), retain_graph ? c10::optional<bool>(true) : c10::nullopt,
                       create_graph != 0);
  TS_CATCH
}

TS_API ts_grad(void* h, void** out) {
  TS_TRY auto g = R(h).grad();
  *out = g.defined() ? W(g) : nullptr;
  TS_CATCH
}

TS_API ts_set_grad(void* h, void* g) {
  TS_TRY R(h).mutable_grad() = g ? R(g) : at::Tensor();
  TS_CATCH
}

TS_API ts_set_requires_grad(void* h, int on) {
  TS_TRY R(h).requires_grad_(on != 0);
  TS_CATCH
}

// set < 0: query only. *prev receives the state before the call.
TS_API ts_grad_mode(int set, int* prev) {
  TS_TRY* prev = c10::GradMode::is_enabled();
  if (set >= 0) c10::GradMode::set_enabled(set != 0);
  TS_CATCH
}

// ---- threads, RNG, devices ----
TS_API ts_threads(int intra, int interop, int* cur_intra, int* cur_interop) {
  TS_TRY if (intra > 0) at::set_num_threads(intra);
  if (interop > 0) at::set_num_interop_threads(interop);
  *cur_intra = at::get_num_threads();
  *cur_interop = at::get_num_interop_threads();
  TS_CATCH
}

TS_API ts_manual_seed(uint64_t seed) {
  TS_TRY torch::manual_seed(seed);
  TS_CATCH
}

TS_API ts_generator_new(uint64_t seed, int devtype, void** out) {
  TS_TRY TORCH_CHECK(devtype == 0, "only CPU generators are supported by this shim");
  *out = new at::Generator(at::make_generator<at::CPUGeneratorImpl>(seed));
  TS_CATCH
}

// The process-wide default CPU generator (not owned: never pass it to ts_generator_free).
TS_API ts_generator_default(void** out) {
  TS_TRY* out = const_cast<at::Generator*>(&at::detail::getDefaultCPUGenerator());
  TS_CATCH
}

TS_API ts_generator_free(void* g) {
  TS_TRY delete gen(g);
  TS_CATCH
}

// set != 0: reseed with seed. *cur receives the initial seed afterwards.
TS_API ts_generator_seed(void* g, int set, uint64_t seed, uint64_t* cur) {
  TS_TRY auto& G = *gen(g);
  std::lock_guard<std::mutex> lock(G.mutex());
  if (set) G.set_current_seed(seed);
  *cur = G.current_seed();
  TS_CATCH
}

TS_API ts_generator_state(void* g, void* state_in, void** state_out) {
  TS_TRY auto& G = *gen(g);
  std::lock_guard<std::mutex> lock(G.mutex());
  if (state_in) G.set_state(R(state_in));
  if (state_out) *state_out = W(G.get_state());
  TS_CATCH
}

TS_API ts_cuda_info(int* available, int* count) {
  TS_TRY* available = torch::cuda::is_available();
  *count = static_cast<int>(torch::cuda::device_count());
  TS_CATCH
}

// ---- optimizers (libtorch's own implementations; parameters are shared, not copied) ----
enum OptimKind { SGD = 0, ADAM = 1, ADAMW = 2 };

// hp: SGD {lr, momentum, dampening, weight_decay, nesterov}; ADAM/ADAMW {lr, beta1, beta2, eps, weight_decay, amsgrad}
TS_API ts_optim_new(int kind, void** params, int n, const double* hp, void** out) {
  TS_TRY std::vector<at::Tensor> ps;
  for (int i = 0; i < n; i++) ps.push_back(R(params[i]));
  torch::optim::Optimizer* o = nullptr;
  switch (kind) {
    case SGD:
      o = new torch::optim::SGD(ps, torch::optim::SGDOptions(hp[0]).momentum(hp[1]).dampening(hp[2])
                                        .weight_decay(hp[3]).nesterov(hp[4] != 0));
      break;
    case ADAM:
      o = new torch::optim::Adam(ps, torch::optim::AdamOptions(hp[0]).betas({hp[1], hp[2]}).eps(hp[3])
                                         .weight_decay(hp[4]).amsgrad(hp[5] != 0));
      break;
    case ADAMW:
      o = new torch::optim::AdamW(ps, torch::optim::AdamWOptions(hp[0]).betas({hp[1], hp[2]}).eps(hp[3])
                                          .weight_decay(hp[4]).amsgrad(hp[5] != 0));
      break;
    default: throw std::invalid_argument("unknown optimizer kind " + std::to_string(kind));
  }
  *out = o;
  TS_CATCH
}

static torch::optim::Optimizer& O(void* o) { return *static_cast<torch::optim::Optimizer*>(o); }

TS_API ts_optim_step(void* o) {
  TS_TRY O(o).step();
  TS_CATCH
}

TS_API ts_optim_zero_grad(void* o, int set_to_none) {
  TS_TRY for (auto& g : O(o).param_groups()) for (auto& p : g.params()) {
    if (!p.mutable_grad().defined()) continue;
    if (set_to_none) p.mutable_grad() = at::Tensor();
    else { p.mutable_grad().detach_(); p.mutable_grad().zero_(); }
  }
  TS_CATCH
}

// lr < 0: query only.
TS_API ts_optim_lr(void* o, double lr, double* cur) {
  TS_TRY auto& groups = O(o).param_groups();
  for (auto& g : groups) if (lr >= 0) g.options().set_lr(lr);
  *cur = groups.empty() ? 0.0 : groups[0].options().get_lr();
  TS_CATCH
}

TS_API ts_optim_free(void* o) {
  TS_TRY delete static_cast<torch::optim::Optimizer*>(o);
  TS_CATCH
}

TS_API ts_clip_grad_norm(void** params, int n, double max_norm, double norm_type, double* total) {
  TS_TRY std::vector<at::Tensor> ps;
  for (int i = 0; i < n; i++) ps.push_back(R(params[i]));
  *total = torch::nn::utils::clip_grad_norm_(ps, max_norm, norm_type);
  TS_CATCH
}
