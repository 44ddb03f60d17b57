// All operators behind two entry points:
//   ts_op(op, tensors, ints, doubles, intmask, gen, out)        one result (null for in-place forms)
//   ts_op_multi(op, tensors, ints, doubles, intmask, outs, cap, n)  several results
// tensors may hold null for optional arguments. Bit k of intmask marks d[k] as an integral scalar.
#include <ATen/WrapDimUtils.h>

#include "ops.h"
#include "shim.h"

using namespace ts;
using at::Tensor;
namespace idx = at::indexing;

namespace {
constexpr int64_t NONE = INT64_MIN;

struct Args {
  void** t; int nt; const int64_t* i; int ni; const double* d; int nd; int64_t mask; void* g;
  Tensor& T(int k) const {
    TORCH_CHECK(k < nt && t[k], "missing tensor argument ", k);
    return R(t[k]);
  }
  bool has(int k) const { return k < nt && t[k]; }
  c10::optional<Tensor> O(int k) const { return k < nt ? opt(t[k]) : c10::nullopt; }
  int64_t I(int k) const {
    TORCH_CHECK(k < ni, "missing integer argument ", k);
    return i[k];
  }
  double D(int k) const {
    TORCH_CHECK(k < nd, "missing number argument ", k);
    return d[k];
  }
  at::Scalar S(int k) const {
    return ((mask >> k) & 1) ? at::Scalar(static_cast<int64_t>(D(k))) : at::Scalar(D(k));
  }
  at::IntArrayRef IA(int from, int n = -1) const {
    if (n < 0) n = ni - from;
    TORCH_CHECK(from + n <= ni, "missing integer arguments");
    return at::IntArrayRef(i + from, n);
  }
  std::vector<Tensor> all() const {
    std::vector<Tensor> v;
    for (int k = 0; k < nt; k++) v.push_back(T(k));
    return v;
  }
  c10::optional<int64_t> OI(int k) const { return I(k) == NONE ? c10::nullopt : c10::optional<int64_t>(I(k)); }
  c10::optional<at::ScalarType> dtype(int k) const {
    return I(k) < 0 ? c10::nullopt : c10::optional<at::ScalarType>(static_cast<at::ScalarType>(I(k)));
  }
};

// A Python number as a tensor argument: a wrapped 0-dim tensor, promoted the way Python promotes it.
Tensor wrapped(const at::Scalar& s) {
  auto t = c10::scalar_to_tensor(s);
  t.unsafeGetTensorImpl()->set_wrapped_number(true);
  return t;
}

#define UN(code, fn) case code: return ip ? x.fn##_() : x.fn();
#define UN0(code, expr) case code: TORCH_CHECK(!ip, #code " has no in-place form"); return expr;

Tensor unary(int op, Tensor& x, bool ip) {
  switch (op) {
    UN(NEG, neg) UN(EXP, exp) UN(LOG, log) UN(SQRT, sqrt) UN(RSQRT, rsqrt) UN(ABS, abs) UN(SIN, sin)
    UN(COS, cos) UN(TANH, tanh) UN(SIGMOID, sigmoid) UN(RELU, relu) UN(SIGN, sign) UN(FLOOR, floor)
    UN(CEIL, ceil) UN(ROUND, round) UN(RECIPROCAL, reciprocal) UN(SQUARE, square) UN(LOG1P, log1p)
    UN(EXPM1, expm1) UN(ERF, erf) UN(LOGICAL_NOT, logical_not) UN(TRUNC, trunc) UN(LOG2, log2)
    UN(TAN, tan) UN(ATAN, atan) UN(ASIN, asin) UN(ACOS, acos) UN(BITWISE_NOT, bitwise_not)
    case SILU: return ip ? at::silu_(x) : at::silu(x);
    case ZERO: return ip ? x.zero_() : at::zeros_like(x);
    UN0(CONTIGUOUS, x.contiguous()) UN0(CLONE, x.clone()) UN0(ISNAN, x.isnan())
    case DETACH: return ip ? x.detach_() : x.detach();
  }
  TORCH_CHECK(false, "unknown unary op ", op);
}

#define BIN(code, fn) case code: return ip ? x.fn##_(o) : x.fn(o);

template <class O>
Tensor binary(int op, Tensor& x, const O& o, bool ip, const at::Scalar& alpha) {
  constexpr bool scalar = std::is_same_v<O, at::Scalar>;
  switch (op) {
    case ADD: return ip ? x.add_(o, alpha) : x.add(o, alpha);
    case SUB: return ip ? x.sub_(o, alpha) : x.sub(o, alpha);
    BIN(MUL, mul) BIN(DIV, div) BIN(POW, pow) BIN(EQ, eq) BIN(NE, ne) BIN(LT, lt) BIN(LE, le) BIN(GT, gt)
    BIN(GE, ge) BIN(REMAINDER, remainder) BIN(FLOOR_DIVIDE, floor_divide) BIN(BITWISE_AND, bitwise_and)
    BIN(BITWISE_OR, bitwise_or) BIN(BITWISE_XOR, bitwise_xor)
    case FILL:
    case COPY:
      TORCH_CHECK(ip, "fill/copy are in-place only");
      if constexpr (scalar) return x.fill_(o);
      else return op == FILL ? x.fill_(o) : x.copy_(o);
    default: break;
  }
  if constexpr (scalar) {
    switch (op) {
      case RSUB: TORCH_CHECK(!ip, "no in-place rsub"); return at::rsub(x, o, alpha);
      case RDIV: TORCH_CHECK(!ip, "no in-place rdiv"); return x.reciprocal().mul(o);
      case RPOW: TORCH_CHECK(!ip, "no in-place rpow"); return at::pow(o, x);
      default: return binary(op, x, wrapped(o), ip, alpha);
    }
  } else {
    switch (op) {
      BIN(LOGICAL_AND, logical_and) BIN(LOGICAL_OR, logical_or) BIN(ATAN2, atan2)
      case MAXIMUM: TORCH_CHECK(!ip, "no in-place maximum"); return x.maximum(o);
      case MINIMUM: TORCH_CHECK(!ip, "no in-place minimum"); return x.minimum(o);
      case MATMUL: TORCH_CHECK(!ip, "no in-place matmul"); return x.matmul(o);
      case BMM: TORCH_CHECK(!ip, "no in-place bmm"); return x.bmm(o);
      case MM: TORCH_CHECK(!ip, "no in-place mm"); return x.mm(o);
    }
  }
  TORCH_CHECK(false, "unknown binary op ", op);
}

Tensor reduce(int op, const Args& a) {
  auto& x = a.T(0);
  if (op == MAX_ALL) return at::max(x);
  if (op == MIN_ALL) return at::min(x);
  bool keep = a.I(0) != 0;
  auto dt = a.dtype(1);
  bool unbiased = a.I(2) != 0;
  bool all = a.ni <= 3;
  auto dims = all ? at::IntArrayRef() : a.IA(3);
  switch (op) {
    case SUM: return all ? at::sum(x, dt) : at::sum(x, dims, keep, dt);
    case MEAN: return all ? at::mean(x, dt) : at::mean(x, dims, keep, dt);
    case STD: return all ? at::std(x, unbiased) : at::std(x, dims, unbiased, keep);
    case VAR: return all ? at::var(x, unbiased) : at::var(x, dims, unbiased, keep);
    case AMAX: return at::amax(x, dims, keep);
    case AMIN: return at::amin(x, dims, keep);
    case PROD: return all ? at::prod(x, dt) : at::prod(x, dims[0], keep, dt);
    case NORM: return all ? at::norm(x, a.S(0)) : at::norm(x, a.S(0), dims, keep);
    case LOGSUMEXP: return at::logsumexp(x, dims, keep);
    case ARGMAX: return at::argmax(x, all ? c10::nullopt : c10::optional<int64_t>(dims[0]), keep);
    case ARGMIN: return at::argmin(x, all ? c10::nullopt : c10::optional<int64_t>(dims[0]), keep);
    case ANY: return all ? x.any() : x.any(dims[0], keep);
    case ALL: return all ? x.all() : x.all(dims[0], keep);
    case CUMSUM: return at::cumsum(x, dims[0], dt);
  }
  TORCH_CHECK(false, "unknown reduction ", op);
}

// Index records of 4 ints: {kind, a, b, c}. kind 0 integer a; 1 slice a:b:c (NONE = omitted);
// 2 None; 3 Ellipsis; 4 bool a; 5 tensor t[a].
std::vector<idx::TensorIndex> indices(const Args& a, int from) {
  std::vector<idx::TensorIndex> v;
  for (int k = from; k + 4 <= a.ni; k += 4) {
    int64_t kind = a.i[k], x = a.i[k + 1], y = a.i[k + 2], z = a.i[k + 3];
    auto o = [](int64_t q) { return q == NONE ? c10::nullopt : c10::optional<int64_t>(q); };
    switch (kind) {
      case 0: v.emplace_back(x); break;
      case 1: v.emplace_back(idx::Slice(o(x), o(y), o(z))); break;
      case 2: v.emplace_back(idx::None); break;
      case 3: v.emplace_back(idx::Ellipsis); break;
      case 4: v.emplace_back(x != 0); break;
      case 5: v.emplace_back(a.T(static_cast<int>(x))); break;
      default: TORCH_CHECK(false, "bad index kind ", kind);
    }
  }
  return v;
}

Tensor interpolate(const Args& a) {
  auto& x = a.T(0);
  int64_t mode = a.I(0), ac = a.I(1), nsize = a.I(2);
  c10::optional<at::IntArrayRef> size;
  if (nsize > 0) size = a.IA(3, static_cast<int>(nsize));
  c10::optional<at::ArrayRef<double>> sf;
  if (a.nd > 0) sf = at::ArrayRef<double>(a.d, a.nd);
  int64_t sd = x.dim() - 2;
  TORCH_CHECK(size.has_value() != sf.has_value(), "interpolate: give exactly one of size and scale_factor");
  TORCH_CHECK(sd >= 1 && sd <= 3, "interpolate: expected a 3-D, 4-D or 5-D input, got ", x.dim(), "-D");
  TORCH_CHECK((size ? size->size() : sf->size()) == static_cast<size_t>(sd), "interpolate: input is ", x.dim(),
              "-D, so ", sd, " sizes or scale factors are needed");
  bool linear_like = mode == 1 || mode == 2 || mode == 3 || mode == 4;
  TORCH_CHECK(linear_like || ac < 0, "align_corners option can only be set with the interpolating modes: "
              "linear | bilinear | bicubic | trilinear");
  bool align = ac > 0;
  at::OptionalIntArrayRef os = size ? at::OptionalIntArrayRef(*size) : c10::nullopt;
  switch (mode) {
    case 0:
      if (sd == 1) return at::upsample_nearest1d(x, os, sf);
      if (sd == 2) return at::upsample_nearest2d(x, os, sf);
      return at::upsample_nearest3d(x, os, sf);
    case 6:
      if (sd == 1) return at::_upsample_nearest_exact1d(x, os, sf);
      if (sd == 2) return at::_upsample_nearest_exact2d(x, os, sf);
      return at::_upsample_nearest_exact3d(x, os, sf);
    case 1: TORCH_CHECK(sd == 1, "linear interpolation needs a 3-D input"); return at::upsample_linear1d(x, os, align, sf);
    case 2: TORCH_CHECK(sd == 2, "bilinear interpolation needs a 4-D input"); return at::upsample_bilinear2d(x, os, align, sf);
    case 3: TORCH_CHECK(sd == 2, "bicubic interpolation needs a 4-D input"); return at::upsample_bicubic2d(x, os, align, sf);
    case 4: TORCH_CHECK(sd == 3, "trilinear interpolation needs a 5-D input"); return at::upsample_trilinear3d(x, os, align, sf);
    case 5: {
      std::vector<int64_t> out;
      for (int64_t k = 0; k < sd; k++)
        out.push_back(size ? (*size)[k] : static_cast<int64_t>(std::floor(x.size(k + 2) * (*sf)[k])));
      TORCH_CHECK(sd == 2, "area interpolation is implemented for 4-D inputs");
      return at::adaptive_avg_pool2d(x, out);
    }
  }
  TORCH_CHECK(false, "unknown interpolation mode ", mode);
}

Tensor pad(const Args& a) {
  auto& x = a.T(0);
  int64_t mode = a.I(0);
  auto p = a.IA(1);
  if (mode == 0 || mode == 4) return at::constant_pad_nd(x, p, a.nd ? a.S(0) : at::Scalar(0.0));
  size_t n = p.size() / 2;
  TORCH_CHECK(p.size() % 2 == 0 && n >= 1 && n <= 3, "pad: padding length must be 2, 4 or 6 for this mode");
  TORCH_CHECK(x.dim() == static_cast<int64_t>(n) + 1 || x.dim() == static_cast<int64_t>(n) + 2,
              "pad: ", p.size(), " padding values need a ", n + 1, "-D or ", n + 2, "-D input, got ", x.dim(), "-D");
  if (mode == 1) return n == 1 ? at::reflection_pad1d(x, p) : n == 2 ? at::reflection_pad2d(x, p) : at::reflection_pad3d(x, p);
  if (mode == 2) return n == 1 ? at::replication_pad1d(x, p) : n == 2 ? at::replication_pad2d(x, p) : at::replication_pad3d(x, p);
  if (mode == 3) {  // circular, as torch.nn.functional._pad_circular: wrap each padded dimension
    Tensor y = x;
    for (size_t k = 0; k < n; k++) {
      int64_t dim = x.dim() - 1 - static_cast<int64_t>(k), lo = p[2 * k], hi = p[2 * k + 1], len = y.size(dim);
      TORCH_CHECK(lo <= len && hi <= len, "circular padding larger than the input");
      y = at::cat({y.narrow(dim, len - lo, lo), y, y.narrow(dim, 0, hi)}, dim);
    }
    return y;
  }
  TORCH_CHECK(false, "unknown padding mode ", mode);
}

Tensor conv(const Args& a) {
  // i = {transposed, n, stride[n], padding[n], dilation[n], output_padding[n], groups}
  int64_t tr = a.I(0), n = a.I(1);
  int b = 2;
  auto stride = a.IA(b, n), padding = a.IA(b + n, n), dilation = a.IA(b + 2 * n, n), outpad = a.IA(b + 3 * n, n);
  int64_t groups = a.I(b + 4 * n);
  auto& x = a.T(0);
  auto bias = a.O(2);
  if (n == 2 && !tr) return at::conv2d(x, a.T(1), bias, stride, padding, dilation, groups);
  if (n == 2) return at::conv_transpose2d(x, a.T(1), bias, stride, padding, outpad, groups, dilation);
  if (n == 1 && !tr) return at::conv1d(x, a.T(1), bias, stride, padding, dilation, groups);
  if (n == 3 && !tr) return at::conv3d(x, a.T(1), bias, stride, padding, dilation, groups);
  if (n == 1) return at::conv_transpose1d(x, a.T(1), bias, stride, padding, outpad, groups, dilation);
  return at::conv_transpose3d(x, a.T(1), bias, stride, padding, outpad, groups, dilation);
}

Tensor nn(int op, const Args& a, bool ip) {
  auto& x = a.T(0);
  switch (op) {
    case CONV: return conv(a);
    case GROUP_NORM: return at::group_norm(x, a.I(0), a.O(1), a.O(2), a.D(0), true);
    case LAYER_NORM: return at::layer_norm(x, a.IA(0), a.O(1), a.O(2), a.D(0), true);
    case LINEAR: return at::linear(x, a.T(1), a.O(2));
    case SOFTMAX: return at::softmax(x, a.I(0), a.dtype(1));
    case LOG_SOFTMAX: return at::log_softmax(x, a.I(0), a.dtype(1));
    case DROPOUT: return ip ? at::dropout_(x, a.D(0), a.I(0) != 0) : at::dropout(x, a.D(0), a.I(0) != 0);
    case EMBEDDING: return at::embedding(x, a.T(1), a.I(0), false, false);
    case INTERPOLATE: return interpolate(a);
    case AVG_POOL2D:
      return at::avg_pool2d(x, a.IA(0, 2), a.IA(2, 2), a.IA(4, 2), a.I(6) != 0, a.I(7) != 0,
                            a.I(8) ? c10::optional<int64_t>(a.I(8)) : c10::nullopt);
    case MAX_POOL2D: return at::max_pool2d(x, a.IA(0, 2), a.IA(2, 2), a.IA(4, 2), a.IA(6, 2), a.I(8) != 0);
    case ADAPTIVE_AVG_POOL2D: return at::adaptive_avg_pool2d(x, a.IA(0, 2));
    case PAD: return pad(a);
    case MSE_LOSS: return at::mse_loss(x, a.T(1), a.I(0));
    case L1_LOSS: return at::l1_loss(x, a.T(1), a.I(0));
    case SMOOTH_L1_LOSS: return at::smooth_l1_loss(x, a.T(1), a.I(0), a.D(0));
    case BCE_WITH_LOGITS: return at::binary_cross_entropy_with_logits(x, a.T(1), a.O(2), a.O(3), a.I(0));
    case CROSS_ENTROPY: return at::cross_entropy_loss(x, a.T(1), a.O(2), a.I(0), a.I(1), a.D(0));
    case LEAKY_RELU: return ip ? at::leaky_relu_(x, a.S(0)) : at::leaky_relu(x, a.S(0));
    case GELU: return ip ? at::gelu_(x, a.I(0) ? "tanh" : "none") : at::gelu(x, a.I(0) ? "tanh" : "none");
    case SOFTPLUS: return at::softplus(x, a.S(0), a.S(1));
    case ELU: return ip ? at::elu_(x, a.S(0)) : at::elu(x, a.S(0));
    case HARDTANH: return ip ? at::hardtanh_(x, a.S(0), a.S(1)) : at::hardtanh(x, a.S(0), a.S(1));
    case BATCH_NORM:
      return at::batch_norm(x, a.O(1), a.O(2), a.O(3), a.O(4), a.I(0) != 0, a.D(0), a.D(1), true);
  }
  TORCH_CHECK(false, "unknown nn op ", op);
}

Tensor other(int op, const Args& a, bool ip) {
  auto& x = a.T(0);
  auto noip = [&] { TORCH_CHECK(!ip, "op ", op, " has no in-place form"); };
  switch (op) {
    case RESHAPE: noip(); return x.reshape(a.IA(0));
    case VIEW: noip(); return x.view(a.IA(0));
    case PERMUTE: noip(); return x.permute(a.IA(0));
    case EXPAND: noip(); return x.expand(a.IA(0));
    case REPEAT: noip(); return x.repeat(a.IA(0));
    case FLATTEN: noip(); return x.flatten(a.I(0), a.I(1));
    case SQUEEZE: return a.ni ? (ip ? x.squeeze_(a.I(0)) : x.squeeze(a.I(0))) : (ip ? x.squeeze_() : x.squeeze());
    case UNSQUEEZE: return ip ? x.unsqueeze_(a.I(0)) : x.unsqueeze(a.I(0));
    case TRANSPOSE: return ip ? x.transpose_(a.I(0), a.I(1)) : x.transpose(a.I(0), a.I(1));
    case NARROW: noip(); return x.narrow(a.I(0), a.I(1), a.I(2));
    case SLICE: noip(); return x.slice(a.I(0), a.OI(1), a.OI(2), a.I(3));
    case SELECT: noip(); return x.select(a.I(0), a.I(1));
    case INDEX_SELECT: noip(); return x.index_select(a.I(0), a.T(1));
    case GATHER: noip(); return x.gather(a.I(0), a.T(1));
    case SCATTER: return ip ? x.scatter_(a.I(0), a.T(1), a.T(2)) : x.scatter(a.I(0), a.T(1), a.T(2));
    case MASKED_FILL:
      if (a.has(2)) return ip ? x.masked_fill_(a.T(1), a.T(2)) : x.masked_fill(a.T(1), a.T(2));
      return ip ? x.masked_fill_(a.T(1), a.S(0)) : x.masked_fill(a.T(1), a.S(0));
    case WHERE: {  // t0 condition; t1/t2 values, or d0/d1 scalars where absent (i0, i1 say which)
      noip();
      Tensor v1 = a.has(1) ? a.T(1) : wrapped(a.S(0));
      Tensor v2 = a.has(2) ? a.T(2) : wrapped(a.S(1));
      return at::where(x, v1, v2);
    }
    case CAT: noip(); return at::cat(a.all(), a.I(0));
    case STACK: noip(); return at::stack(a.all(), a.I(0));
    case INDEX: noip(); return x.index(indices(a, 0));
    case INDEX_PUT:  // t1 value tensor, or scalar d0 when t1 is null; index tensors from t2 on
    {
      Tensor y = ip ? x : x.clone();
      if (a.has(1)) y.index_put_(indices(a, 0), a.T(1));
      else y.index_put_(indices(a, 0), a.S(0));
      return y;
    }
    case TO: {
      noip();
      auto dt = a.I(0) < 0 ? x.scalar_type() : static_cast<at::ScalarType>(a.I(0));
      auto dev = a.I(1) < 0 ? x.device()
                            : c10::Device(static_cast<c10::DeviceType>(a.I(1)), static_cast<c10::DeviceIndex>(a.I(2)));
      return x.to(dev, dt, a.I(3) != 0, a.I(4) != 0);
    }
    case CLAMP: {  // i0 has min, i1 has max; d0 min, d1 max
      auto lo = a.I(0) ? c10::optional<at::Scalar>(a.S(0)) : c10::nullopt;
      auto hi = a.I(1) ? c10::optional<at::Scalar>(a.S(1)) : c10::nullopt;
      return ip ? x.clamp_(lo, hi) : x.clamp(lo, hi);
    }
    case LERP:
      if (a.has(2)) return ip ? x.lerp_(a.T(1), a.T(2)) : x.lerp(a.T(1), a.T(2));
      return ip ? x.lerp_(a.T(1), a.S(0)) : x.lerp(a.T(1), a.S(0));
    case TRIU: return ip ? x.triu_(a.I(0)) : x.triu(a.I(0));
    case TRIL: return ip ? x.tril_(a.I(0)) : x.tril(a.I(0));
    case FLIP: noip(); return x.flip(a.IA(0));
    case ROLL: noip(); return x.roll(a.IA(0, a.ni / 2), a.IA(a.ni / 2, a.ni / 2));
    case REPEAT_INTERLEAVE: noip(); return x.repeat_interleave(a.I(0), a.OI(1));
    case AS_STRIDED: {  // i = {n, size[n], stride[n], storage_offset}
      noip();
      int n = static_cast<int>(a.I(0));
      return x.as_strided(a.IA(1, n), a.IA(1 + n, n), a.I(1 + 2 * n));
    }
    case UNIFORM: TORCH_CHECK(ip, "uniform is in-place only"); return x.uniform_(a.D(0), a.D(1), optgen(a.g));
    case NORMAL: TORCH_CHECK(ip, "normal is in-place only"); return x.normal_(a.D(0), a.D(1), optgen(a.g));
    case ADDCMUL: return ip ? x.addcmul_(a.T(1), a.T(2), a.S(0)) : x.addcmul(a.T(1), a.T(2), a.S(0));
    case ADDCDIV: return ip ? x.addcdiv_(a.T(1), a.T(2), a.S(0)) : x.addcdiv(a.T(1), a.T(2), a.S(0));
  }
  TORCH_CHECK(false, "unknown op ", op);
}

Tensor dispatch(int op, const Args& a) {
  bool ip = op >= INPLACE;
  int base = ip ? op - INPLACE : op;
  if (base < 100) return unary(base, a.T(0), ip);
  if (base < 400) {
    at::Scalar alpha = a.nd > 1 ? a.S(1) : at::Scalar(static_cast<int64_t>(1));
    if (a.has(1)) return binary(base, a.T(0), a.T(1), ip, alpha);
    return binary(base, a.T(0), a.S(0), ip, alpha);
  }
  if (base < 500) return reduce(base, a);
  if (base < 700) return other(base, a, ip);
  if (base < 900) return nn(base, a, ip);
  TORCH_CHECK(false, "unknown op ", op);
}

std::vector<Tensor> dispatch_multi(int op, const Args& a) {
  auto& x = a.T(0);
  auto two = [](std::tuple<Tensor, Tensor> t) { return std::vector<Tensor>{std::get<0>(t), std::get<1>(t)}; };
  switch (op) {
    case MAX_DIM: return two(x.max(a.I(0), a.I(1) != 0));
    case MIN_DIM: return two(x.min(a.I(0), a.I(1) != 0));
    case CHUNK: return x.chunk(a.I(0), a.I(1));
    case SPLIT: return a.ni == 2 ? x.split(a.I(1), a.I(0)) : x.split_with_sizes(a.IA(1), a.I(0));
    case UNBIND: return x.unbind(a.I(0));
    case SORT: return two(x.sort(a.I(0), a.I(1) != 0));
    case TOPK: return two(x.topk(a.I(0), a.I(1), a.I(2) != 0, a.I(3) != 0));
  }
  TORCH_CHECK(false, "unknown multi-output op ", op);
}
}  // namespace

TS_API ts_op(int op, void** t, int nt, const int64_t* i, int ni, const double* d, int nd, int64_t mask, void* g,
             void** out) {
  TS_TRY Args a{t, nt, i, ni, d, nd, mask, g};
  auto r = dispatch(op, a);
  *out = op >= INPLACE ? nullptr : W(std::move(r));
  TS_CATCH
}

TS_API ts_op_multi(int op, void** t, int nt, const int64_t* i, int ni, const double* d, int nd, int64_t mask,
                   void** outs, int cap, int* n) {
  TS_TRY Args a{t, nt, i, ni, d, nd, mask, nullptr};
  auto r = dispatch_multi(op, a);
  TORCH_CHECK(static_cast<int>(r.size()) <= cap, "operation gives ", r.size(), " tensors, room for ", cap);
  for (size_t k = 0; k < r.size(); k++) outs[k] = W(std::move(r[k]));
  *n = static_cast<int>(r.size());
  TS_CATCH
}
