// ONNX → lipschitz::Network by interpreting the graph one node at a time with ATen.
//
// ONNX graphs are topologically sorted, so one pass in node order sees every value before its
// readers. Every value is either a constant (initializers, Constant nodes, and whatever is
// computed from them and from shapes alone: spectral_norm's σ-normalised weight, the
// Shape → Gather → Unsqueeze → Concat chains of Reshape targets, pad amounts) or a network value,
// a tensor that depends on the input. Constants are evaluated eagerly. Nodes with a network input
// become layers; each is run twice, once by this file's ATen implementation of the ONNX operator
// (run_operator) and once by run_layer() from our description of it, and the two outputs must
// agree: a node we misread stops the import instead of yielding a wrong bound.
//
// Some PyTorch modules are exported as several nodes; these patterns are recognised from their
// first node and become one layer (torch.onnx 1.13, opsets 9–17):
//   GELU            x · 0.5 · (1 + erf(x / √2)): Div, Erf, Add, Mul, Mul
//   GELU(tanh)      0.5 · x · (1 + tanh(√(2/π) · (x + 0.044715 · x³))): Mul ×3, Add, Mul, Tanh, …
//   SiLU            Mul(x, Sigmoid(x))
//   Softplus(β≠1)   Div(Softplus(Mul(x, β)), β)
//   Linear on ≥3-D  MatMul(x, Wᵀ), Add(b)
//   LayerNorm       (opset < 17) ReduceMean, Sub, Pow, ReduceMean, Add, Sqrt, Div, Mul, Add
//   AvgPool         Pad (zeros, always written, often of 0) + AveragePool: count_include_pad=True
//   circular pad    Concat(Slice(x), x, Slice(x)) per spatial axis (Conv padding_mode='circular')
//
// Layer names follow the TorchScript importer: torch.onnx names a node "/main/main.0/Conv" after
// the module scopes it was traced in, from which PyTorch's named_modules() path is rebuilt.

#include <report/model_import.hpp>
#include <report/network_builder.hpp>

#include "import_common.hpp"

// Debian's libonnx-dev ships only the ONNX-ML generated header (onnx-ml.pb.h); the CMake targets
// `onnx`/`onnx_proto` define ONNX_ML so that onnx_pb.h picks it. Defined here for other builds.
#ifndef ONNX_ML
#define ONNX_ML 1
#endif
#include <onnx/onnx_pb.h>

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace lipschitz::report {
namespace {

using IntList = std::vector<std::int64_t>;
using detail::agree;
using detail::error_summary;
using detail::extent_of;
using detail::max_difference;

constexpr double kScalarTolerance = 1e-6;  // a pattern's constants, stored in float32
constexpr std::int64_t kDefaultBatch = 2;  // example batch when the model's batch is dynamic
constexpr std::uint64_t kExampleSeed = 20261122;
constexpr int kOldestOpset = 9, kNewestOpset = 17;  // what torch.onnx 1.13 writes
constexpr double kSoftplusThreshold = 20;           // PyTorch's default; ONNX Softplus has none
constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kPi = 3.14159265358979323846;

/// An ONNX operator, or a variant of one, that run_operator() does not implement. An empty
/// message means the operator itself.
class Unsupported : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};


std::string join(const IntList& values) {
  std::string text;
  for (std::int64_t v : values) text += (text.empty() ? "" : ", ") + std::to_string(v);
  return "(" + text + ")";
}

std::string type_name(int onnx_type) {
  return onnx::TensorProto_DataType_IsValid(onnx_type)
             ? onnx::TensorProto_DataType_Name(static_cast<onnx::TensorProto_DataType>(onnx_type))
             : "data type " + std::to_string(onnx_type);
}

// "LeakyRelu" → "leaky_relu": the word an operation gets in layer names ("block1.leaky_relu").
std::string snake_case(const std::string& op) {
  std::string out;
  for (std::size_t i = 0; i < op.size(); ++i) {
    const char c = op[i];
    if (std::isupper(static_cast<unsigned char>(c))) {
      if (i > 0 && !std::isupper(static_cast<unsigned char>(op[i - 1]))) out += '_';
      out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    } else {
      out += c;
    }
  }
  return out;
}

// ---- Attributes -------------------------------------------------------------------------------

const onnx::AttributeProto* find_attribute(const onnx::NodeProto& node, const std::string& name) {
  for (const onnx::AttributeProto& a : node.attribute())
    if (a.name() == name) return &a;
  return nullptr;
}

std::int64_t attr_int(const onnx::NodeProto& node, const std::string& name, std::int64_t fallback) {
  const onnx::AttributeProto* a = find_attribute(node, name);
  return a ? a->i() : fallback;
}

double attr_float(const onnx::NodeProto& node, const std::string& name, double fallback) {
  const onnx::AttributeProto* a = find_attribute(node, name);
  return a ? static_cast<double>(a->f()) : fallback;
}

std::string attr_string(const onnx::NodeProto& node, const std::string& name,
                        const std::string& fallback) {
  const onnx::AttributeProto* a = find_attribute(node, name);
  return a ? a->s() : fallback;
}

IntList attr_ints(const onnx::NodeProto& node, const std::string& name, IntList fallback = {}) {
  const onnx::AttributeProto* a = find_attribute(node, name);
  return a ? IntList(a->ints().begin(), a->ints().end()) : fallback;
}

// ---- Tensors ----------------------------------------------------------------------------------

at::ScalarType scalar_type(int onnx_type, const std::string& what) {
  switch (onnx_type) {
    case onnx::TensorProto::FLOAT:
      return at::kFloat;
    case onnx::TensorProto::DOUBLE:
      return at::kDouble;
    case onnx::TensorProto::FLOAT16:
      return at::kHalf;
    case onnx::TensorProto::BFLOAT16:
      return at::kBFloat16;
    case onnx::TensorProto::INT64:
      return at::kLong;
    case onnx::TensorProto::INT32:
      return at::kInt;
    case onnx::TensorProto::INT16:
      return at::kShort;
    case onnx::TensorProto::INT8:
      return at::kChar;
    case onnx::TensorProto::UINT8:
      return at::kByte;
    case onnx::TensorProto::BOOL:
      return at::kBool;
    default:
      break;
  }
  throw Unsupported(what + " holds " + type_name(onnx_type) + " values, which are not supported");
}

bool is_floating(at::ScalarType type) { return at::isFloatingType(type); }

template <typename Dest, typename Values>
void copy_values(at::Tensor& out, const Values& values, const std::string& what) {
  if (static_cast<std::int64_t>(values.size()) != out.numel())
    throw Unsupported(what + " has " + std::to_string(values.size()) + " values for its " +
                      std::to_string(out.numel()) + " entries");
  Dest* p = static_cast<Dest*>(out.data_ptr());
  for (int i = 0; i < values.size(); ++i) p[i] = static_cast<Dest>(values.Get(i));
}

/// The tensor a TensorProto holds: raw little-endian bytes, typed fields, or external data
/// (a file beside the model). 16-bit floats become float32: ATen's CPU kernels lack many
/// half-precision operators.
at::Tensor tensor_of(const onnx::TensorProto& proto, const std::string& model_dir) {
  const std::string what = "tensor '" + proto.name() + "'";
  const at::ScalarType type = scalar_type(proto.data_type(), what);
  const IntList dims(proto.dims().begin(), proto.dims().end());
  at::Tensor out = at::empty(dims, at::TensorOptions().dtype(type));
  const auto bytes =
      static_cast<std::size_t>(out.numel()) * static_cast<std::size_t>(out.element_size());
  if (proto.data_location() == onnx::TensorProto::EXTERNAL) {
    std::string location;
    long long offset = 0;
    for (const onnx::StringStringEntryProto& entry : proto.external_data()) {
      if (entry.key() == "location") location = entry.value();
      if (entry.key() == "offset") offset = std::atoll(entry.value().c_str());
    }
    const std::string file = model_dir + location;
    std::ifstream in(file, std::ios::binary);
    if (location.empty() || !in)
      throw Unsupported(what + ": its data file '" + file + "' cannot be read");
    in.seekg(offset);
    in.read(static_cast<char*>(out.data_ptr()), static_cast<std::streamsize>(bytes));
    if (!in)
      throw Unsupported(what + ": '" + file + "' has fewer than " + std::to_string(bytes) +
                        " bytes at offset " + std::to_string(offset));
  } else if (proto.has_raw_data()) {
    if (proto.raw_data().size() != bytes)
      throw Unsupported(what + " has " + std::to_string(proto.raw_data().size()) +
                        " bytes of data for its " + std::to_string(bytes));
    if (bytes > 0) std::memcpy(out.data_ptr(), proto.raw_data().data(), bytes);
  } else {
    switch (proto.data_type()) {
      case onnx::TensorProto::FLOAT:
        copy_values<float>(out, proto.float_data(), what);
        break;
      case onnx::TensorProto::DOUBLE:
        copy_values<double>(out, proto.double_data(), what);
        break;
      case onnx::TensorProto::INT64:
        copy_values<std::int64_t>(out, proto.int64_data(), what);
        break;
      case onnx::TensorProto::INT32:
        copy_values<std::int32_t>(out, proto.int32_data(), what);
        break;
      case onnx::TensorProto::INT16:
        copy_values<std::int16_t>(out, proto.int32_data(), what);
        break;
      case onnx::TensorProto::INT8:
        copy_values<std::int8_t>(out, proto.int32_data(), what);
        break;
      case onnx::TensorProto::UINT8:
        copy_values<std::uint8_t>(out, proto.int32_data(), what);
        break;
      case onnx::TensorProto::BOOL:
        copy_values<bool>(out, proto.int32_data(), what);
        break;
      // 16-bit floats are stored as their bit patterns in int32_data.
      default:
        copy_values<std::uint16_t>(out, proto.int32_data(), what);
        break;
    }
  }
  if (type == at::kHalf || type == at::kBFloat16) out = out.to(at::kFloat);
  return out;
}

IntList sizes_of(const at::Tensor& t) { return IntList(t.sizes().begin(), t.sizes().end()); }

IntList ints_of(const at::Tensor& t) {
  const at::Tensor c = t.to(at::kLong).contiguous();
  const std::int64_t* p = c.data_ptr<std::int64_t>();
  return IntList(p, p + c.numel());
}

double scalar_of(const at::Tensor& t, const std::string& what) {
  if (t.numel() != 1)
    throw Unsupported(what + " must be one number; it has shape " + join(sizes_of(t)));
  return t.to(at::kDouble).item<double>();
}

std::int64_t axis_of(std::int64_t axis, std::int64_t rank) {
  const std::int64_t a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank)
    throw Unsupported("axis " + std::to_string(axis) + " is out of range for rank " +
                      std::to_string(rank));
  return a;
}

std::int64_t product(IntList::const_iterator begin, IntList::const_iterator end) {
  std::int64_t p = 1;
  for (auto it = begin; it != end; ++it) p *= *it;
  return p;
}

/// ONNX lists pads as (begin_1, …, begin_n, end_1, …, end_n); ATen's pad functions want
/// (begin_n, end_n, begin_{n−1}, end_{n−1}, …), the last dimension first.
IntList aten_pads(const IntList& pads) {
  const std::size_t n = pads.size() / 2;
  IntList out;
  for (std::size_t i = n; i-- > 0;) {
    out.push_back(pads[i]);
    out.push_back(pads[n + i]);
  }
  return out;
}

bool symmetric(const IntList& pads) {
  const std::size_t n = pads.size() / 2;
  for (std::size_t i = 0; i < n; ++i)
    if (pads[i] != pads[n + i]) return false;
  return true;
}

bool all_zero(const IntList& values) {
  return std::all_of(values.begin(), values.end(), [](std::int64_t v) { return v == 0; });
}

// Numpy-style broadcast of two shapes (ONNX Expand broadcasts both ways).
IntList broadcast_shapes(const IntList& a, const IntList& b) {
  IntList out(std::max(a.size(), b.size()), 1);
  for (std::size_t i = 0; i < out.size(); ++i) {
    const std::int64_t x = i < a.size() ? a[a.size() - 1 - i] : 1;
    const std::int64_t y = i < b.size() ? b[b.size() - 1 - i] : 1;
    if (x != y && x != 1 && y != 1)
      throw Unsupported("shapes " + join(a) + " and " + join(b) + " do not broadcast");
    out[out.size() - 1 - i] = x == 1 ? y : x;
  }
  return out;
}

// Whether a tensor of shape `from` broadcasts to `to` without changing it.
bool broadcasts_to(const IntList& from, const IntList& to) {
  if (from.size() > to.size()) return false;
  for (std::size_t i = 1; i <= from.size(); ++i)
    if (from[from.size() - i] != 1 && from[from.size() - i] != to[to.size() - i]) return false;
  return true;
}

// [start, end) of a step-1 Slice along a dimension of size n, clamped as the ONNX Slice
// specification says (negative indices count from the end).
std::pair<std::int64_t, std::int64_t> slice_bounds(std::int64_t start, std::int64_t end,
                                                   std::int64_t n) {
  if (start < 0) start += n;
  if (end < 0) end += n;
  start = std::clamp<std::int64_t>(start, 0, n);
  end = std::clamp<std::int64_t>(end, 0, n);
  return {start, std::max(start, end)};
}

// PyTorch's pooling output size (ATen's pooling_output_shape), with or without ceil_mode.
std::int64_t pool_output_size(std::int64_t in, std::int64_t k, std::int64_t s, std::int64_t pad,
                              std::int64_t d, bool ceil) {
  const std::int64_t span = in + 2 * pad - d * (k - 1) - 1 + (ceil ? s - 1 : 0);
  std::int64_t out = (span >= 0 ? span / s : -((-span + s - 1) / s)) + 1;
  if (ceil && (out - 1) * s >= in + pad) --out;
  return out;
}

/// A convolution's or pooling node's geometry, per spatial dimension.
struct Window {
  IntList kernel, stride, dilation;
  IntList pads;  ///< begin…, end…
};

/// `pads`, or what `auto_pad` asks for (ONNX Conv: SAME_UPPER puts the odd one at the end,
/// SAME_LOWER at the start; VALID pads nothing).
Window window_of(const onnx::NodeProto& node, const at::Tensor& x, IntList kernel) {
  const std::size_t d = kernel.size();
  Window w;
  w.stride = attr_ints(node, "strides", IntList(d, 1));
  w.dilation = attr_ints(node, "dilations", IntList(d, 1));
  w.kernel = std::move(kernel);
  if (w.stride.size() != d || w.dilation.size() != d)
    throw Unsupported("strides or dilations do not have one entry per spatial dimension");
  const std::string mode = attr_string(node, "auto_pad", "NOTSET");
  w.pads = IntList(2 * d, 0);
  if (mode == "NOTSET" || mode.empty()) {
    w.pads = attr_ints(node, "pads", w.pads);
    if (w.pads.size() != 2 * d)
      throw Unsupported("pads does not have two entries per spatial dimension");
  } else if (mode == "SAME_UPPER" || mode == "SAME_LOWER") {
    for (std::size_t i = 0; i < d; ++i) {
      const std::int64_t in = x.size(static_cast<std::int64_t>(2 + i));
      const std::int64_t out = (in + w.stride[i] - 1) / w.stride[i];
      const std::int64_t total = std::max<std::int64_t>(
          0, (out - 1) * w.stride[i] + (w.kernel[i] - 1) * w.dilation[i] + 1 - in);
      const bool upper = mode == "SAME_UPPER";
      w.pads[i] = upper ? total / 2 : total - total / 2;
      w.pads[d + i] = upper ? total - total / 2 : total / 2;
    }
  } else if (mode != "VALID") {
    throw Unsupported("auto_pad " + mode);
  }
  return w;
}

Window pool_window(const onnx::NodeProto& node, const at::Tensor& x) {
  const IntList kernel = attr_ints(node, "kernel_shape");
  if (kernel.empty() || static_cast<std::int64_t>(kernel.size()) != x.dim() - 2)
    throw Unsupported("kernel_shape " + join(kernel) + " does not fit an input of shape " +
                      join(sizes_of(x)));
  return window_of(node, x, kernel);
}

// ---- The ONNX operators, on ATen tensors ------------------------------------------------------

at::Tensor run_conv(const onnx::NodeProto& node, const at::Tensor& x, const at::Tensor& w,
                    const at::Tensor& b, bool transposed) {
  const auto d = static_cast<std::size_t>(w.dim() - 2);
  const Window g = window_of(node, x, IntList(w.sizes().begin() + 2, w.sizes().end()));
  const std::int64_t groups = attr_int(node, "group", 1);
  const IntList zeros(d, 0);
  if (!transposed) {
    // Asymmetric pads (auto_pad SAME with an even kernel): zeros first, then a 'valid' conv.
    if (symmetric(g.pads))
      return at::convolution(x, w, b, g.stride, IntList(g.pads.begin(), g.pads.begin() + d),
                             g.dilation, false, zeros, groups);
    return at::convolution(at::constant_pad_nd(x, aten_pads(g.pads), 0), w, b, g.stride, zeros,
                           g.dilation, false, zeros, groups);
  }
  if (find_attribute(node, "output_shape")) throw Unsupported("ConvTranspose with output_shape");
  const std::string mode = attr_string(node, "auto_pad", "NOTSET");
  if (mode.rfind("SAME", 0) == 0) throw Unsupported("ConvTranspose with auto_pad " + mode);
  const IntList output_padding = attr_ints(node, "output_padding", zeros);
  // ConvTranspose's pads crop the full transposed convolution (ONNX ConvTranspose: output =
  // stride·(in − 1) + output_padding + (k − 1)·dilation + 1 − pads_begin − pads_end).
  at::Tensor y =
      at::convolution(x, w, b, g.stride, zeros, g.dilation, true, output_padding, groups);
  for (std::size_t i = 0; i < d; ++i) {
    const auto axis = static_cast<std::int64_t>(2 + i);
    y = y.narrow(axis, g.pads[i], y.size(axis) - g.pads[i] - g.pads[d + i]);
  }
  return y;
}

at::Tensor run_pool(const onnx::NodeProto& node, const at::Tensor& input, bool max) {
  const Window g = pool_window(node, input);
  const std::size_t d = g.kernel.size();
  const bool ceil = attr_int(node, "ceil_mode", 0) != 0;
  const bool count_pad = attr_int(node, "count_include_pad", 0) != 0;
  at::Tensor x = input;
  IntList padding(g.pads.begin(), g.pads.begin() + static_cast<std::ptrdiff_t>(d));
  bool native = symmetric(g.pads);
  for (std::size_t i = 0; i < d; ++i) native = native && 2 * padding[i] <= g.kernel[i];
  if (!native) {
    // Padding ATen cannot do itself: explicit −∞ (max) or zeros (average, counted).
    if (!max && !count_pad) throw Unsupported("AveragePool with uneven pads that are not counted");
    x = at::constant_pad_nd(x, aten_pads(g.pads), max ? -kInf : 0.0);
    padding.assign(d, 0);
  }
  if (max) {
    if (d == 1) return at::max_pool1d(x, g.kernel, g.stride, padding, g.dilation, ceil);
    if (d == 2) return at::max_pool2d(x, g.kernel, g.stride, padding, g.dilation, ceil);
    return at::max_pool3d(x, g.kernel, g.stride, padding, g.dilation, ceil);
  }
  if (g.dilation != IntList(d, 1)) throw Unsupported("AveragePool with dilations");
  if (d == 1) return at::avg_pool1d(x, g.kernel, g.stride, padding, ceil, count_pad);
  if (d == 2) return at::avg_pool2d(x, g.kernel, g.stride, padding, ceil, count_pad);
  return at::avg_pool3d(x, g.kernel, g.stride, padding, ceil, count_pad);
}

/// A Pad node's amounts (begin…, end… over every axis), mode and constant value.
struct PadSpec {
  IntList pads;
  std::string mode = "constant";
  double value = 0;
};

// Pads come from an input from opset 11 on (before: the `pads` attribute), the value from
// input 2 (before: `value`), and from opset 18 an `axes` input may say which axes pads lists.
PadSpec pad_spec(const onnx::NodeProto& node, const std::vector<at::Tensor>& in) {
  const auto has = [&](std::size_t k) { return k < in.size() && in[k].defined(); };
  const std::int64_t rank = in.at(0).dim();
  PadSpec p;
  p.mode = attr_string(node, "mode", "constant");
  const IntList given =
      has(1) ? ints_of(in[1]) : attr_ints(node, "pads", attr_ints(node, "paddings"));
  p.value = has(2) ? scalar_of(in[2], "Pad's constant_value") : attr_float(node, "value", 0.0);
  IntList axes;
  if (has(3)) {
    for (std::int64_t a : ints_of(in[3])) axes.push_back(axis_of(a, rank));
  } else {
    for (std::int64_t a = 0; a < rank; ++a) axes.push_back(a);
  }
  if (given.size() != 2 * axes.size())
    throw Unsupported("Pad lists " + std::to_string(given.size()) + " amounts for " +
                      std::to_string(axes.size()) + " axes");
  p.pads.assign(static_cast<std::size_t>(2 * rank), 0);
  for (std::size_t i = 0; i < axes.size(); ++i) {
    p.pads[static_cast<std::size_t>(axes[i])] = given[i];
    p.pads[static_cast<std::size_t>(rank + axes[i])] = given[axes.size() + i];
  }
  return p;
}

at::Tensor run_pad(const onnx::NodeProto& node, const std::vector<at::Tensor>& in) {
  const at::Tensor& x = in.at(0);
  const PadSpec p = pad_spec(node, in);
  if (p.mode == "constant") return at::constant_pad_nd(x, aten_pads(p.pads), p.value);
  // reflect, edge (PyTorch's replicate), wrap (opset 19, circular): ATen pads only the
  // dimensions after batch and channel, and never crops.
  const std::int64_t rank = x.dim();
  IntList spatial;
  for (std::int64_t a = 2; a < rank; ++a) spatial.push_back(p.pads[static_cast<std::size_t>(a)]);
  for (std::int64_t a = 2; a < rank; ++a)
    spatial.push_back(p.pads[static_cast<std::size_t>(rank + a)]);
  if (rank < 3 || rank > 5 || p.pads[0] || p.pads[1] || p.pads[static_cast<std::size_t>(rank)] ||
      p.pads[static_cast<std::size_t>(rank + 1)] ||
      std::any_of(spatial.begin(), spatial.end(), [](std::int64_t v) { return v < 0; }))
    throw Unsupported("Pad mode " + p.mode + " of the batch or channel axes, or cropping");
  const std::string mode = p.mode == "reflect" ? "reflect"
                           : p.mode == "edge"  ? "replicate"
                           : p.mode == "wrap"  ? "circular"
                                               : "";
  if (mode.empty()) throw Unsupported("Pad mode " + p.mode);
  return at::pad(x, aten_pads(spatial), mode);
}

at::Tensor run_slice(const onnx::NodeProto& node, const std::vector<at::Tensor>& in, int opset) {
  const auto has = [&](std::size_t k) { return k < in.size() && in[k].defined(); };
  at::Tensor x = in.at(0);
  // Opset 10 moved starts, ends, axes and steps from attributes to inputs.
  const IntList starts = opset >= 10 ? ints_of(in.at(1)) : attr_ints(node, "starts");
  const IntList ends = opset >= 10 ? ints_of(in.at(2)) : attr_ints(node, "ends");
  IntList axes = opset >= 10 ? (has(3) ? ints_of(in[3]) : IntList{}) : attr_ints(node, "axes");
  IntList steps = has(4) ? ints_of(in[4]) : IntList(starts.size(), 1);
  if (axes.empty())
    for (std::size_t i = 0; i < starts.size(); ++i) axes.push_back(static_cast<std::int64_t>(i));
  if (ends.size() != starts.size() || axes.size() != starts.size() || steps.size() != starts.size())
    throw Unsupported("Slice with starts, ends, axes and steps of different lengths");
  for (std::size_t i = 0; i < starts.size(); ++i) {
    const std::int64_t axis = axis_of(axes[i], x.dim()), n = x.size(axis), step = steps[i];
    if (step == 0) throw Unsupported("Slice with step 0");
    if (step > 0) {
      const auto [start, end] = slice_bounds(starts[i], ends[i], n);
      x = x.slice(axis, start, end, step);
    } else {
      // Negative steps: start clamped to [0, n − 1], end to [−1, n − 1] (ONNX Slice).
      std::int64_t start = starts[i] < 0 ? starts[i] + n : starts[i];
      std::int64_t end = ends[i] < 0 ? ends[i] + n : ends[i];
      start = std::clamp<std::int64_t>(start, 0, n - 1);
      end = std::clamp<std::int64_t>(end, -1, n - 1);
      x = x.index_select(axis, at::arange(start, end, step, at::TensorOptions().dtype(at::kLong)));
    }
  }
  return x;
}

at::Tensor run_resize(const onnx::NodeProto& node, const std::vector<at::Tensor>& in) {
  // nn.Upsample as torch.onnx writes it: Resize (opset ≥ 11: X, roi, scales, sizes) or
  // Upsample (opset 9: X, scales), nearest or (bi)linear, on (N, C, H, W).
  const auto has = [&](std::size_t k) {
    return k < in.size() && in[k].defined() && in[k].numel() > 0;
  };
  const at::Tensor& x = in.at(0);
  if (x.dim() != 4) throw Unsupported("resizing a tensor that is not (N, C, H, W)");
  const bool upsample = node.op_type() == "Upsample";
  IntList size;
  c10::optional<double> scale_h, scale_w;
  if (!upsample && has(3)) {
    size = ints_of(in[3]);
    if (size.size() != 4 || size[0] != x.size(0) || size[1] != x.size(1))
      throw Unsupported("resizing the batch or channel axes");
    size.erase(size.begin(), size.begin() + 2);
  } else {
    const at::Tensor s = (upsample ? in.at(1) : in.at(2)).to(at::kDouble).contiguous();
    if (s.numel() != 4 || s[0].item<double>() != 1 || s[1].item<double>() != 1)
      throw Unsupported("resizing the batch or channel axes");
    scale_h = s[2].item<double>();
    scale_w = s[3].item<double>();
    size = {static_cast<std::int64_t>(std::floor(static_cast<double>(x.size(2)) * *scale_h)),
            static_cast<std::int64_t>(std::floor(static_cast<double>(x.size(3)) * *scale_w))};
  }
  const std::string mode = attr_string(node, "mode", "nearest");
  const std::string transform = attr_string(node, "coordinate_transformation_mode", "half_pixel");
  if (mode == "nearest" &&
      (upsample || (transform == "asymmetric" &&
                    attr_string(node, "nearest_mode", "round_prefer_floor") == "floor")))
    return at::upsample_nearest2d(x, size, scale_h, scale_w);
  if (!upsample && mode == "linear" &&
      (transform == "pytorch_half_pixel" || transform == "half_pixel" ||
       transform == "align_corners"))
    return at::upsample_bilinear2d(x, size, transform == "align_corners", scale_h, scale_w);
  throw Unsupported(node.op_type() + " mode " + mode + " with coordinate_transformation_mode " +
                    transform);
}

at::Tensor run_reduce(const onnx::NodeProto& node, const std::vector<at::Tensor>& in) {
  const at::Tensor& x = in.at(0);
  // Axes: an attribute, or (ReduceSum from opset 13, the others from 18) input 1.
  IntList axes = in.size() > 1 && in[1].defined() ? ints_of(in[1]) : attr_ints(node, "axes");
  const bool keep = attr_int(node, "keepdims", 1) != 0;
  if (axes.empty()) {
    if (attr_int(node, "noop_with_empty_axes", 0) != 0) return x;
    for (std::int64_t a = 0; a < x.dim(); ++a) axes.push_back(a);
  }
  for (std::int64_t& a : axes) a = axis_of(a, x.dim());
  std::sort(axes.begin(), axes.end());
  const std::string& op = node.op_type();
  if (op == "ReduceMean") return at::mean(x, axes, keep);
  if (op == "ReduceSum") return at::sum(x, axes, keep);
  if (op == "ReduceMax") return at::amax(x, axes, keep);
  if (op == "ReduceMin") return at::amin(x, axes, keep);
  if (op == "ReduceSumSquare") return at::sum(x * x, axes, keep);
  if (op == "ReduceL1") return at::sum(at::abs(x), axes, keep);
  if (op == "ReduceL2") return at::sqrt(at::sum(x * x, axes, keep));
  if (op == "ReduceLogSumExp") return at::logsumexp(x, axes, keep);
  if (op == "ReduceProd") {
    at::Tensor y = x;
    for (auto a = axes.rbegin(); a != axes.rend(); ++a) y = at::prod(y, *a, keep);
    return y;
  }
  throw Unsupported("");
}

using Unary = at::Tensor (*)(const at::Tensor&);

const std::unordered_map<std::string, Unary>& unary_operators() {
  static const std::unordered_map<std::string, Unary> ops{
      {"Identity", [](const at::Tensor& t) { return t; }},
      {"Relu", [](const at::Tensor& t) { return at::relu(t); }},
      {"Sigmoid", [](const at::Tensor& t) { return at::sigmoid(t); }},
      {"Tanh", [](const at::Tensor& t) { return at::tanh(t); }},
      {"Erf", [](const at::Tensor& t) { return at::erf(t); }},
      {"Exp", [](const at::Tensor& t) { return at::exp(t); }},
      {"Log", [](const at::Tensor& t) { return at::log(t); }},
      {"Sqrt", [](const at::Tensor& t) { return at::sqrt(t); }},
      {"Abs", [](const at::Tensor& t) { return at::abs(t); }},
      {"Neg", [](const at::Tensor& t) { return at::neg(t); }},
      {"Reciprocal", [](const at::Tensor& t) { return at::reciprocal(t); }},
      {"Floor", [](const at::Tensor& t) { return at::floor(t); }},
      {"Ceil", [](const at::Tensor& t) { return at::ceil(t); }},
      {"Round", [](const at::Tensor& t) { return at::round(t); }},  // half to even, as ONNX
      {"Sign", [](const at::Tensor& t) { return at::sign(t); }},
      {"Sin", [](const at::Tensor& t) { return at::sin(t); }},
      {"Cos", [](const at::Tensor& t) { return at::cos(t); }},
      {"Not", [](const at::Tensor& t) { return at::logical_not(t); }},
      {"Softsign", [](const at::Tensor& t) { return t / (1 + at::abs(t)); }},
      {"HardSwish", [](const at::Tensor& t) { return at::hardswish(t); }},
      {"Mish", [](const at::Tensor& t) { return t * at::tanh(at::softplus(t)); }},
      // ONNX Softplus is ln(1 + eˣ) exactly; ATen's threshold (linear above 20) differs by
      // less than e⁻²⁰ and does not overflow.
      {"Softplus", [](const at::Tensor& t) { return at::softplus(t, 1, kSoftplusThreshold); }},
  };
  return ops;
}

using Binary = at::Tensor (*)(const at::Tensor&, const at::Tensor&);

const std::unordered_map<std::string, Binary>& binary_operators() {
  static const std::unordered_map<std::string, Binary> ops{
      {"Add", [](const at::Tensor& a, const at::Tensor& b) { return at::add(a, b); }},
      {"Sub", [](const at::Tensor& a, const at::Tensor& b) { return at::sub(a, b); }},
      {"Mul", [](const at::Tensor& a, const at::Tensor& b) { return at::mul(a, b); }},
      {"Div",
       [](const at::Tensor& a, const at::Tensor& b) {
         // Integer Div truncates (ONNX Div, like C).
         return at::isFloatingType(a.scalar_type()) || at::isFloatingType(b.scalar_type())
                    ? at::div(a, b)
                    : at::div(a, b, "trunc");
       }},
      {"Pow",
       [](const at::Tensor& a, const at::Tensor& b) { return at::pow(a, b).to(a.scalar_type()); }},
      {"Equal", [](const at::Tensor& a, const at::Tensor& b) { return at::eq(a, b); }},
      {"Less", [](const at::Tensor& a, const at::Tensor& b) { return at::lt(a, b); }},
      {"LessOrEqual", [](const at::Tensor& a, const at::Tensor& b) { return at::le(a, b); }},
      {"Greater", [](const at::Tensor& a, const at::Tensor& b) { return at::gt(a, b); }},
      {"GreaterOrEqual", [](const at::Tensor& a, const at::Tensor& b) { return at::ge(a, b); }},
      {"And", [](const at::Tensor& a, const at::Tensor& b) { return at::logical_and(a, b); }},
      {"Or", [](const at::Tensor& a, const at::Tensor& b) { return at::logical_or(a, b); }},
      {"Xor", [](const at::Tensor& a, const at::Tensor& b) { return at::logical_xor(a, b); }},
      {"MatMul", [](const at::Tensor& a, const at::Tensor& b) { return at::matmul(a, b); }},
  };
  return ops;
}

/// A Constant node's value.
at::Tensor constant_value(const onnx::NodeProto& node, const std::string& model_dir) {
  for (const onnx::AttributeProto& a : node.attribute()) {
    if (a.name() == "value") return tensor_of(a.t(), model_dir);
    if (a.name() == "value_float")
      return at::scalar_tensor(a.f(), at::TensorOptions().dtype(at::kFloat));
    if (a.name() == "value_int")
      return at::scalar_tensor(a.i(), at::TensorOptions().dtype(at::kLong));
    if (a.name() == "value_floats")
      return at::tensor(std::vector<float>(a.floats().begin(), a.floats().end()));
    if (a.name() == "value_ints") return at::tensor(IntList(a.ints().begin(), a.ints().end()));
  }
  throw Unsupported("a Constant without a numeric value (sparse or string)");
}

/// The outputs of one ONNX node on ATen tensors, following the operator's definition at
/// `opset`; `in[k]` is undefined for an omitted optional input. Throws Unsupported.
std::vector<at::Tensor> run_operator(const onnx::NodeProto& node, const std::vector<at::Tensor>& in,
                                     int opset, const std::string& model_dir) {
  const std::string& op = node.op_type();
  const auto has = [&](std::size_t k) { return k < in.size() && in[k].defined(); };
  const auto input = [&](std::size_t k) -> const at::Tensor& {
    if (!has(k)) throw Unsupported("its input " + std::to_string(k) + " is missing");
    return in[k];
  };
  const auto one = [](at::Tensor t) { return std::vector<at::Tensor>{std::move(t)}; };

  if (op == "Constant") return one(constant_value(node, model_dir));
  if (const auto it = unary_operators().find(op); it != unary_operators().end())
    return one(it->second(input(0)));
  if (const auto it = binary_operators().find(op); it != binary_operators().end())
    return one(it->second(input(0), input(1)));
  if (op == "Max" || op == "Min" || op == "Sum" || op == "Mean") {
    at::Tensor y = input(0);
    for (std::size_t k = 1; k < in.size(); ++k)
      y = op == "Max"   ? at::maximum(y, input(k))
          : op == "Min" ? at::minimum(y, input(k))
                        : y + input(k);
    return one(op == "Mean" ? y / static_cast<double>(in.size()) : y);
  }
  const at::Tensor& x = input(0);
  const std::int64_t rank = x.dim();

  // Elementwise with parameters.
  if (op == "LeakyRelu") return one(at::leaky_relu(x, attr_float(node, "alpha", 0.01)));
  if (op == "Elu") return one(at::elu(x, attr_float(node, "alpha", 1.0)));
  if (op == "Celu") return one(at::celu(x, attr_float(node, "alpha", 1.0)));
  if (op == "Selu")
    return one(attr_float(node, "gamma", 1.05070102214813232421875) *
               at::elu(x, attr_float(node, "alpha", 1.67326319217681884765625)));
  if (op == "HardSigmoid")
    return one(
        at::clamp(attr_float(node, "alpha", 0.2) * x + attr_float(node, "beta", 0.5), 0.0, 1.0));
  if (op == "ThresholdedRelu")
    return one(at::where(x > attr_float(node, "alpha", 1.0), x, at::zeros_like(x)));
  if (op == "Gelu") return one(at::gelu(x, attr_string(node, "approximate", "none")));
  if (op == "PRelu") return one(at::where(x < 0, x * input(1), x));
  if (op == "Clip") {
    // Bounds are inputs from opset 11 on, attributes before.
    c10::optional<at::Scalar> low, high;
    if (opset >= 11) {
      if (has(1)) low = scalar_of(in[1], "Clip's min");
      if (has(2)) high = scalar_of(in[2], "Clip's max");
    } else {
      if (find_attribute(node, "min")) low = attr_float(node, "min", 0.0);
      if (find_attribute(node, "max")) high = attr_float(node, "max", 0.0);
    }
    return one(at::clamp(x, low, high));
  }
  if (op == "Cast") {
    const at::ScalarType type =
        scalar_type(static_cast<int>(attr_int(node, "to", 1)), "Cast's target");
    return one(type == at::kHalf || type == at::kBFloat16 ? x.to(at::kFloat) : x.to(type));
  }
  if (op == "Dropout") {
    std::vector<at::Tensor> out{x};  // inference: the identity; the mask is all true
    if (node.output_size() > 1)
      out.push_back(at::ones_like(x, at::TensorOptions().dtype(at::kBool)));
    return out;
  }
  if (op == "Where") return one(at::where(x.to(at::kBool), input(1), input(2)));
  if (op == "Mod")
    return one(attr_int(node, "fmod", 0) ? at::fmod(x, input(1)) : at::remainder(x, input(1)));

  // Shapes and indexing.
  if (op == "Shape") {
    // Opset 15's start and end pick a range of the dimensions, clamped.
    const auto [start, end] =
        slice_bounds(attr_int(node, "start", 0), attr_int(node, "end", rank), rank);
    const IntList sizes = sizes_of(x);
    return one(at::tensor(IntList(sizes.begin() + start, sizes.begin() + end)));
  }
  if (op == "Size") return one(at::scalar_tensor(x.numel(), at::TensorOptions().dtype(at::kLong)));
  if (op == "Reshape") {
    IntList shape = ints_of(input(1));
    // 0 copies the input's dimension unless allowzero (opset 14).
    if (!attr_int(node, "allowzero", 0))
      for (std::size_t i = 0; i < shape.size(); ++i)
        if (shape[i] == 0) shape[i] = x.size(static_cast<std::int64_t>(i));
    return one(x.reshape(shape));
  }
  if (op == "Flatten") {
    std::int64_t axis = attr_int(node, "axis", 1);
    if (axis < 0) axis += rank;
    if (axis < 0 || axis > rank) throw Unsupported("Flatten axis out of range");
    const IntList sizes = sizes_of(x);
    return one(x.reshape({product(sizes.begin(), sizes.begin() + axis),
                          product(sizes.begin() + axis, sizes.end())}));
  }
  if (op == "Unsqueeze") {
    IntList axes = has(1) ? ints_of(in[1]) : attr_ints(node, "axes");  // an input from opset 13
    const auto out_rank = static_cast<std::int64_t>(rank + static_cast<std::int64_t>(axes.size()));
    for (std::int64_t& a : axes) a = axis_of(a, out_rank);
    std::sort(axes.begin(), axes.end());
    at::Tensor y = x;
    for (std::int64_t a : axes) y = y.unsqueeze(a);
    return one(y);
  }
  if (op == "Squeeze") {
    IntList axes = has(1) ? ints_of(in[1]) : attr_ints(node, "axes");
    if (axes.empty()) return one(x.squeeze());
    for (std::int64_t& a : axes) a = axis_of(a, rank);
    std::sort(axes.rbegin(), axes.rend());
    at::Tensor y = x;
    for (std::int64_t a : axes) y = y.squeeze(a);
    return one(y);
  }
  if (op == "Concat") {
    std::vector<at::Tensor> parts;
    for (std::size_t k = 0; k < in.size(); ++k) parts.push_back(input(k));
    return one(at::cat(parts, axis_of(attr_int(node, "axis", 0), rank)));
  }
  if (op == "Slice") return one(run_slice(node, in, opset));
  if (op == "Gather") {
    const std::int64_t axis = axis_of(attr_int(node, "axis", 0), rank);
    at::Tensor index = input(1).to(at::kLong);
    index = at::where(index < 0, index + x.size(axis), index);
    IntList shape(x.sizes().begin(), x.sizes().begin() + axis);
    for (std::int64_t s : index.sizes()) shape.push_back(s);
    shape.insert(shape.end(), x.sizes().begin() + axis + 1, x.sizes().end());
    return one(x.index_select(axis, index.flatten()).reshape(shape));
  }
  if (op == "Transpose") {
    IntList perm = attr_ints(node, "perm");
    if (perm.empty())
      for (std::int64_t a = rank - 1; a >= 0; --a) perm.push_back(a);
    return one(x.permute(perm));
  }
  if (op == "Expand") return one(x.expand(broadcast_shapes(sizes_of(x), ints_of(input(1)))));
  if (op == "Tile") return one(x.repeat(ints_of(input(1))));
  if (op == "ConstantOfShape") {
    const onnx::AttributeProto* a = find_attribute(node, "value");
    const at::Tensor value =
        a ? tensor_of(a->t(), model_dir) : at::zeros({1}, at::TensorOptions().dtype(at::kFloat));
    return one(at::full(ints_of(x), value.reshape({-1})[0].item(), value.options()));
  }
  if (op == "Range")
    return one(at::arange(x.item(), input(1).item(), input(2).item(), x.options()));
  if (op == "Split") {
    const std::int64_t axis = axis_of(attr_int(node, "axis", 0), rank);
    IntList sizes = has(1) ? ints_of(in[1]) : attr_ints(node, "split");
    if (sizes.empty()) {
      const std::int64_t parts = node.output_size(), n = x.size(axis);
      const std::int64_t each = (n + parts - 1) / parts;  // the last part may be smaller
      for (std::int64_t k = 0; k < parts; ++k) sizes.push_back(std::min(each, n - k * each));
    }
    return x.split_with_sizes(sizes, axis);
  }
  if (op.rfind("Reduce", 0) == 0) return one(run_reduce(node, in));
  if (op == "ArgMax" || op == "ArgMin") {
    const std::int64_t axis = axis_of(attr_int(node, "axis", 0), rank);
    const bool keep = attr_int(node, "keepdims", 1) != 0;
    return one(op == "ArgMax" ? at::argmax(x, axis, keep) : at::argmin(x, axis, keep));
  }
  if (op == "Softmax" || op == "LogSoftmax") {
    const bool logarithmic = op == "LogSoftmax";
    if (opset >= 13) {
      const std::int64_t axis = axis_of(attr_int(node, "axis", -1), rank);
      return one(logarithmic ? at::log_softmax(x, axis) : at::softmax(x, axis));
    }
    // Before opset 13 the input is coerced to 2-D at `axis` (default 1) and normalised over
    // the second of those dimensions.
    const std::int64_t axis = axis_of(attr_int(node, "axis", 1), rank);
    const IntList sizes = sizes_of(x);
    const at::Tensor flat = x.reshape(
        {product(sizes.begin(), sizes.begin() + axis), product(sizes.begin() + axis, sizes.end())});
    return one((logarithmic ? at::log_softmax(flat, 1) : at::softmax(flat, 1)).reshape(sizes));
  }

  // Layers.
  if (op == "Gemm") {
    // Y = α·A'·B' + β·C, A' = Aᵀ if transA, B' = Bᵀ if transB.
    const at::Tensor a = attr_int(node, "transA", 0) ? x.t() : x;
    const at::Tensor b = attr_int(node, "transB", 0) ? input(1).t() : input(1);
    at::Tensor y = at::mm(a, b);
    const double alpha = attr_float(node, "alpha", 1.0), beta = attr_float(node, "beta", 1.0);
    if (alpha != 1) y = y * alpha;
    if (has(2)) y = y + (beta != 1 ? in[2] * beta : in[2]);
    return one(y);
  }
  if (op == "Conv" || op == "ConvTranspose")
    return one(run_conv(node, x, input(1), has(2) ? in[2] : at::Tensor(), op == "ConvTranspose"));
  if (op == "MaxPool" || op == "AveragePool") {
    if (op == "MaxPool" && node.output_size() > 1 && !node.output(1).empty())
      throw Unsupported("MaxPool's Indices output");
    return one(run_pool(node, x, op == "MaxPool"));
  }
  if (op == "GlobalAveragePool" || op == "GlobalMaxPool") {
    IntList axes;
    for (std::int64_t a = 2; a < rank; ++a) axes.push_back(a);
    return one(op == "GlobalAveragePool" ? at::mean(x, axes, true) : at::amax(x, axes, true));
  }
  if (op == "BatchNormalization") {
    // In training mode (opset 14's training_mode) it normalises by the batch's statistics; the
    // running ones are cloned, as ATen would update them.
    const bool training = attr_int(node, "training_mode", 0) != 0;
    return one(at::batch_norm(x, input(1), input(2), input(3).clone(), input(4).clone(), training,
                              0.0, attr_float(node, "epsilon", 1e-5), false));
  }
  if (op == "LayerNormalization") {
    const std::int64_t axis = axis_of(attr_int(node, "axis", -1), rank);
    const IntList normalized(x.sizes().begin() + axis, x.sizes().end());
    const at::Tensor w = input(1).expand(normalized).contiguous();
    const at::Tensor b = has(2) ? in[2].expand(normalized).contiguous() : at::Tensor();
    return one(at::layer_norm(x, normalized, w, b, attr_float(node, "epsilon", 1e-5)));
  }
  if (op == "InstanceNormalization")
    return one(at::instance_norm(x, input(1), input(2), at::Tensor(), at::Tensor(), true, 0.0,
                                 attr_float(node, "epsilon", 1e-5), false));
  if (op == "Pad") return one(run_pad(node, in));
  if (op == "Resize" || op == "Upsample") return one(run_resize(node, in));
  throw Unsupported("");
}

// ---- Module paths from torch.onnx node names ------------------------------------------------

bool numeric_atoms(const std::string& text) {
  if (text.empty()) return false;
  bool digit_seen = false;
  for (char c : text) {
    if (c == '.') {
      if (!digit_seen) return false;
      digit_seen = false;
    } else if (std::isdigit(static_cast<unsigned char>(c))) {
      digit_seen = true;
    } else {
      return false;
    }
  }
  return digit_seen;
}

// torch.onnx names each scope by the module's unqualified name, numeric atoms kept with the name
// before them (torch/onnx/utils.py, _unqualified_variable_name): child 0 of "main" is
// "main.0", while "conv1" is a child of the scope before it.
std::string extend_path(const std::string& path, const std::string& previous,
                        const std::string& part) {
  if (!previous.empty() && part.size() > previous.size() + 1 &&
      part.compare(0, previous.size() + 1, previous + ".") == 0 &&
      numeric_atoms(part.substr(previous.size() + 1)))
    return path + part.substr(previous.size());
  return path.empty() ? part : path + "." + part;
}

/// PyTorch's named_modules() path of the module a node was traced in, from torch.onnx's node
/// name ("/layer1/layer1.0/conv1/Conv" → "layer1.0.conv1"; "" for the top-level forward);
/// nullopt for names not of that form. A module called again gets a scope "relu_1": with
/// `known` (every path seen), such a suffix is dropped when the module without it exists.
std::optional<std::string> module_path(const std::string& node_name,
                                       const std::set<std::string>* known) {
  if (node_name.size() < 2 || node_name[0] != '/') return std::nullopt;
  std::vector<std::string> parts;  // the scopes; the last component is the operator
  std::size_t start = 1, slash = 0;
  while ((slash = node_name.find('/', start)) != std::string::npos) {
    parts.push_back(node_name.substr(start, slash - start));
    start = slash + 1;
  }
  std::string path, previous;
  for (std::string part : parts) {
    const std::size_t underscore = part.rfind('_');
    if (known && underscore != std::string::npos && underscore + 1 < part.size() &&
        part.find_first_not_of("0123456789", underscore + 1) == std::string::npos &&
        known->count(extend_path(path, previous, part.substr(0, underscore))))
      part = part.substr(0, underscore);
    path = extend_path(path, previous, part);
    previous = part;
  }
  return path;
}

// ---- The importer -----------------------------------------------------------------------------

struct Entry {
  at::Tensor value;  ///< the constant, or the ONNX operator's output on the example batch
  int layer = -1;    ///< ≥ 0: a network value, the builder's index of the layer computing it
};

/// What a node, or a pattern of nodes starting at it, becomes.
struct Reading {
  std::vector<Layer> layers;       ///< a chain (each reads the one before); none: an alias
  std::vector<std::string> words;  ///< per layer, the operation's name in layer names
  std::vector<int> nodes;          ///< the graph nodes it covers, in graph order
  std::string output;              ///< the value the last layer computes

  void add(Layer layer, std::string word) {
    layers.push_back(std::move(layer));
    words.push_back(std::move(word));
  }
};

/// Where a layer came from, for its name.
struct Origin {
  std::string node_name;
  std::string word;
};


/// A pad layer from ONNX-style (begin…, end…) amounts of the 1 or 2 spatial dimensions.
Layer pad_layer(PadMode mode, const IntList& pads) {
  Layer layer;
  layer.kind = LayerKind::pad;
  layer.pad_mode = mode;
  layer.pads = pads.size() == 4 ? std::array<Index, 4>{pads[0], pads[2], pads[1], pads[3]}
                                : std::array<Index, 4>{0, 0, pads.at(0), pads.at(1)};
  layer.type = "Pad(" + to_string(mode) + ")";
  return layer;
}

Layer activation_layer(Activation activation, double parameter = 0, double parameter2 = 0) {
  Layer layer;
  layer.kind = LayerKind::activation;
  layer.activation = activation;
  layer.parameter = parameter;
  layer.parameter2 = parameter2;
  layer.type = to_string(activation);
  return layer;
}

bool near(double value, double wanted) {
  return std::abs(value - wanted) <= kScalarTolerance * std::max(1.0, std::abs(wanted));
}

class Importer {
 public:
  Importer(std::string path, const onnx::ModelProto& model)
      : path_(std::move(path)), graph_(model.graph()) {
    const std::size_t slash = path_.rfind('/');
    dir_ = slash == std::string::npos ? "" : path_.substr(0, slash + 1);
    for (const onnx::OperatorSetIdProto& set : model.opset_import())
      if (set.domain().empty() || set.domain() == "ai.onnx")
        opset_ = static_cast<int>(set.version());
  }

  ImportedModel run(const std::optional<Shape>& given) {
    if (opset_ == 0) fail("the model imports no version of the standard ONNX operator set");
    if (graph_.node_size() == 0) fail("the model's graph has no nodes");
    if (opset_ < kOldestOpset || opset_ > kNewestOpset)
      warnings_.push_back("ONNX opset " + std::to_string(opset_) +
                          ": operators are read as in opsets " + std::to_string(kOldestOpset) +
                          "–" + std::to_string(kNewestOpset) +
                          " (torch.onnx 1.13) and checked by running them");
    if (graph_.output_size() != 1)
      fail("the graph has " + std::to_string(graph_.output_size()) +
           " outputs; lipschitz report analyses a model with one output");
    index_graph();
    read_initializers();

    ImportedModel result;
    result.format = "onnx";
    const onnx::ValueInfoProto& input = network_input();
    const InputChoice choice = choose_input(input, given);
    result.input_shape = choice.shape;
    result.input_shape_source = choice.source;
    if (choice.half)
      warnings_.push_back("the model computes in 16-bit floats; it is analysed in float32");
    IntList sizes{choice.batch};
    sizes.insert(sizes.end(), result.input_shape.begin(), result.input_shape.end());
    const at::Tensor example = at::randn(sizes, at::detail::createCPUGenerator(kExampleSeed),
                                         at::TensorOptions().dtype(choice.dtype));
    builder_ = std::make_unique<NetworkBuilder>(result.input_shape, example);
    origins_.push_back({"", "input"});
    env_[input.name()] = {builder_->value(0), 0};

    fold_constants();
    for (int i = 0; i < graph_.node_size(); ++i)
      if (!done_[static_cast<std::size_t>(i)]) interpret(i);

    const std::string& output = graph_.output(0).name();
    const auto it = env_.find(output);
    if (it == env_.end()) fail("no node computes the graph's output '" + output + "'");
    if (it->second.layer < 0)
      fail("the graph's output '" + output + "' does not depend on its input");
    Network network;
    try {
      network = std::move(*builder_).finish(it->second.layer);
    } catch (const std::invalid_argument& e) {
      fail(e.what());
    }
    name_layers(network);
    network = merge_circular_padding(network);
    auto shared = std::make_shared<const Network>(network);
    result.network = std::move(network);
    result.forward = [shared](const at::Tensor& x) { return run_network(*shared, x); };
    result.forward_double = result.forward;  // run_network computes in the input's dtype
    result.warnings = warnings_;
    return result;
  }

 private:
  [[noreturn]] void fail(const std::string& message) const {
    throw ImportError(path_ + ": " + message);
  }

  const onnx::NodeProto& node_at(int i) const { return graph_.node(i); }

  std::string label(int i) const {
    const onnx::NodeProto& n = node_at(i);
    return n.name().empty() ? n.op_type() + " node #" + std::to_string(i)
                            : "node '" + n.name() + "' (" + n.op_type() + ")";
  }

  // ---- Setup

  void index_graph() {
    done_.assign(static_cast<std::size_t>(graph_.node_size()), false);
    for (int i = 0; i < graph_.node_size(); ++i) {
      for (const std::string& name : node_at(i).input()) {
        std::vector<int>& readers = consumers_[name];
        if (!name.empty() && (readers.empty() || readers.back() != i)) {
          readers.push_back(i);
          ++unread_[name];
        }
      }
      for (const std::string& name : node_at(i).output()) producer_[name] = i;
    }
    for (const onnx::ValueInfoProto& v : graph_.output()) graph_outputs_.insert(v.name());
  }

  void read_initializers() {
    for (const onnx::TensorProto& t : graph_.initializer()) {
      try {
        env_[t.name()] = {tensor_of(t, dir_), -1};
      } catch (const Unsupported& e) {
        fail(e.what());
      }
    }
  }

  /// The graph input that is not an initializer.
  const onnx::ValueInfoProto& network_input() const {
    std::vector<const onnx::ValueInfoProto*> inputs;
    std::string names;
    for (const onnx::ValueInfoProto& v : graph_.input())
      if (!env_.count(v.name())) {
        inputs.push_back(&v);
        names += (names.empty() ? "'" : ", '") + v.name() + "'";
      }
    if (inputs.empty()) fail("the graph has no input besides its initializers");
    if (inputs.size() > 1)
      fail("the graph has " + std::to_string(inputs.size()) + " inputs (" + names +
           "); lipschitz report analyses a model with one input");
    return *inputs[0];
  }

  struct InputChoice {
    Shape shape;                         ///< per sample
    std::string source;                  ///< "model file" or "--input-shape"
    std::int64_t batch = kDefaultBatch;  ///< of the example batch
    at::ScalarType dtype = at::kFloat;   ///< of the example batch
    bool half = false;                   ///< the model's input is a 16-bit float
  };

  /// The per-sample input shape: the model's static dimensions (the first is the batch), or
  /// `given`, which must agree with every static one. The example batch is the model's own
  /// batch size if static (torch.onnx bakes a static batch into Reshape targets), else 2.
  InputChoice choose_input(const onnx::ValueInfoProto& input,
                           const std::optional<Shape>& given) const {
    InputChoice choice;
    const std::string who = "input '" + input.name() + "'";
    if (!input.type().has_tensor_type()) fail(who + " is not a tensor");
    const onnx::TypeProto_Tensor& type = input.type().tensor_type();
    const int elem = type.elem_type();
    choice.half = elem == onnx::TensorProto::FLOAT16 || elem == onnx::TensorProto::BFLOAT16;
    if (elem == onnx::TensorProto::DOUBLE) choice.dtype = at::kDouble;
    if (elem != onnx::TensorProto::FLOAT && elem != onnx::TensorProto::DOUBLE && !choice.half)
      fail(who + " holds " + type_name(elem) +
           " values; lipschitz report analyses models of a floating-point input");
    std::vector<std::optional<std::int64_t>> dims;
    std::string text;
    for (const onnx::TensorShapeProto_Dimension& d : type.shape().dim()) {
      dims.push_back(d.has_dim_value() ? std::optional<std::int64_t>(d.dim_value()) : std::nullopt);
      text += (text.empty() ? "" : ", ") + (d.has_dim_value()       ? std::to_string(d.dim_value())
                                            : d.dim_param().empty() ? "?"
                                                                    : d.dim_param());
    }
    text = "(" + text + ")";
    const bool known_rank = type.has_shape();
    if (known_rank && dims.size() < 2)
      fail(who + " has shape " + text + "; lipschitz report needs a batch-first input");
    if (known_rank && dims[0] && *dims[0] > 0) choice.batch = *dims[0];
    if (given) {
      bool fits = !known_rank || dims.size() == given->size() + 1;
      for (std::size_t i = 1; fits && i < dims.size(); ++i)
        fits = !dims[i] || *dims[i] == (*given)[i - 1];
      if (!fits)
        fail("--input-shape " + shape_string(*given) + " does not fit the model's " + who +
             " of shape " + text);
      choice.source = "--input-shape";
      choice.shape = *given;
      return choice;
    }
    if (!known_rank)
      fail("the model does not record the shape of its " + who +
           "; give the per-sample shape with --input-shape (e.g. 3x32x32)");
    for (std::size_t i = 1; i < dims.size(); ++i) {
      if (!dims[i])
        fail(who + " has dynamic dimensions " + text +
             "; give the per-sample shape with --input-shape (e.g. 3x32x32)");
      choice.shape.push_back(*dims[i]);
    }
    choice.source = "model file";
    return choice;
  }

  // ---- Values

  const std::vector<int>& consumers(const std::string& value) const {
    static const std::vector<int> none;
    const auto it = consumers_.find(value);
    return it == consumers_.end() ? none : it->second;
  }

  /// The one node that reads `value`; −1 if none or several do, or it is the graph's output.
  int sole_consumer(const std::string& value) const {
    if (graph_outputs_.count(value)) return -1;
    const std::vector<int>& readers = consumers(value);
    return readers.size() == 1 ? readers[0] : -1;
  }

  /// The sole consumer of `value` if `accept` says it continues a pattern, else −1.
  template <typename Accept>
  int follow(const std::string& value, Accept accept) const {
    const int c = sole_consumer(value);
    return c >= 0 && accept(node_at(c)) ? c : -1;
  }

  const at::Tensor* constant(const std::string& name) const {
    const auto it = env_.find(name);
    return it != env_.end() && it->second.layer < 0 ? &it->second.value : nullptr;
  }

  int layer_of(const std::string& name) const {
    const auto it = env_.find(name);
    return it == env_.end() ? -1 : it->second.layer;
  }

  const at::Tensor& value_of(const std::string& name) const { return env_.at(name).value; }

  /// The number a binary node combines `a` with, if its other input is a one-element constant
  /// (in either position if `commutative`).
  std::optional<double> scalar_operand(const onnx::NodeProto& n, const std::string& a,
                                       bool commutative = true) const {
    if (n.input_size() != 2) return std::nullopt;
    const int other = n.input(0) == a ? 1 : commutative && n.input(1) == a ? 0 : -1;
    if (other < 0) return std::nullopt;
    const at::Tensor* c = constant(n.input(other));
    if (!c || c->numel() != 1) return std::nullopt;
    return c->to(at::kDouble).item<double>();
  }

  bool op_with_scalar(const onnx::NodeProto& n, const char* op, const std::string& a, double wanted,
                      bool commutative = true) const {
    if (n.op_type() != op) return false;
    const std::optional<double> s = scalar_operand(n, a, commutative);
    return s && near(*s, wanted);
  }

  static bool op_with(const onnx::NodeProto& n, const char* op, const std::string& a,
                      const std::string& b) {
    return n.op_type() == op && n.input_size() == 2 &&
           ((n.input(0) == a && n.input(1) == b) || (n.input(0) == b && n.input(1) == a));
  }

  std::vector<at::Tensor> inputs_of(int i) const {
    std::vector<at::Tensor> inputs;
    for (const std::string& name : node_at(i).input()) {
      if (name.empty()) {
        inputs.emplace_back();
        continue;
      }
      const auto it = env_.find(name);
      if (it == env_.end())
        fail(label(i) + " reads '" + name + "', which no earlier node computes");
      inputs.push_back(it->second.value);
    }
    return inputs;
  }

  std::vector<at::Tensor> evaluate(int i, const std::vector<at::Tensor>& inputs) const {
    const onnx::NodeProto& n = node_at(i);
    try {
      return run_operator(n, inputs, opset_, dir_);
    } catch (const Unsupported& e) {
      const std::string detail = e.what();
      fail("operator " + n.op_type() + " (" + label(i) + ") is not supported and cannot be run" +
           (detail.empty() ? "" : ": " + detail));
    } catch (const c10::Error& e) {
      fail(label(i) + " fails on the example input: " + error_summary(e.what_without_backtrace()));
    } catch (const std::out_of_range& e) {
      fail(label(i) + ": " + e.what());
    }
  }

  // ---- The pass

  /// Evaluates every node that depends on constants alone, before any layer is read, so that
  /// the patterns can look ahead at the constants they compare with.
  void fold_constants() {
    for (int i = 0; i < graph_.node_size(); ++i) {
      const onnx::NodeProto& n = node_at(i);
      if (!n.domain().empty() && n.domain() != "ai.onnx") continue;
      bool ready = true;
      for (const std::string& name : n.input()) ready = ready && (name.empty() || constant(name));
      if (!ready) continue;
      std::vector<at::Tensor> out;
      try {
        out = run_operator(n, inputs_of(i), opset_, dir_);
      } catch (const std::exception&) {
        continue;  // reported with its node when the pass reaches it
      }
      bind(i, out, -1);
      done_[static_cast<std::size_t>(i)] = true;
    }
  }

  void bind(int i, const std::vector<at::Tensor>& out, int layer) {
    const onnx::NodeProto& n = node_at(i);
    for (int k = 0; k < n.output_size() && static_cast<std::size_t>(k) < out.size(); ++k)
      if (!n.output(k).empty()) env_[n.output(k)] = {out[static_cast<std::size_t>(k)], layer};
  }

  void interpret(int i) {
    const onnx::NodeProto& n = node_at(i);
    if (!n.domain().empty() && n.domain() != "ai.onnx")
      fail("operator " + n.domain() + "::" + n.op_type() + " (" + label(i) +
           ") is not from the standard ONNX operator set and cannot be run");
    const std::vector<at::Tensor> inputs = inputs_of(i);
    std::string x;  // the first network-valued input
    for (const std::string& name : n.input())
      if (x.empty() && !name.empty() && layer_of(name) >= 0) x = name;
    // Shape and Size of a network value are constants: the example's (batch included).
    if (x.empty() || n.op_type() == "Shape" || n.op_type() == "Size") {
      bind(i, evaluate(i, inputs), -1);
      finish_node(i);
      return;
    }
    std::optional<Reading> reading;
    at::Tensor real;
    try {
      reading = match_pattern(i, x);
      if (reading) {
        real = run_nodes(reading->nodes, reading->output);
      } else {
        real = evaluate(i, inputs).at(0);
        reading = describe(i, x, real);
      }
    } catch (const Unsupported& e) {
      fail(label(i) + ": " + e.what());
    } catch (const c10::Error& e) {
      fail(label(i) + ": " + error_summary(e.what_without_backtrace()));
    }
    check_outputs(*reading);
    const int index = reading->layers.empty() ? layer_of(x) : add_layers(*reading, real, i);
    env_[reading->output] = {real, index};
    for (int k : reading->nodes) finish_node(k);
  }

  /// Marks a node done, and drops the example values of network values it was the last to read
  /// (the builder keeps its own; a large static batch would otherwise be held twice).
  void finish_node(int k) {
    done_[static_cast<std::size_t>(k)] = true;
    const auto& names = node_at(k).input();
    for (const std::string& name : std::set<std::string>(names.begin(), names.end())) {
      if (name.empty() || graph_outputs_.count(name) || --unread_[name] > 0) continue;
      const auto it = env_.find(name);
      if (it != env_.end() && it->second.layer >= 0) it->second.value = at::Tensor();
    }
  }

  /// The ONNX operators of a pattern's nodes, in order, on the current values.
  at::Tensor run_nodes(const std::vector<int>& nodes, const std::string& output) const {
    std::unordered_map<std::string, at::Tensor> local;
    for (int k : nodes) {
      std::vector<at::Tensor> in;
      for (const std::string& name : node_at(k).input()) {
        const auto it = local.find(name);
        if (it != local.end()) {
          in.push_back(it->second);
        } else if (name.empty()) {
          in.emplace_back();
        } else {
          if (!env_.count(name))
            fail(label(k) + " reads '" + name + "', which no earlier node computes");
          in.push_back(value_of(name));
        }
      }
      const std::vector<at::Tensor> out = evaluate(k, in);
      for (int o = 0; o < node_at(k).output_size() && static_cast<std::size_t>(o) < out.size(); ++o)
        local[node_at(k).output(o)] = out[static_cast<std::size_t>(o)];
    }
    return local.at(output);
  }

  /// Only a reading's output may be read outside it (a layer has one output).
  void check_outputs(const Reading& reading) const {
    const std::set<int> covered(reading.nodes.begin(), reading.nodes.end());
    for (int k : reading.nodes)
      for (const std::string& out : node_at(k).output()) {
        if (out.empty() || out == reading.output) continue;
        bool outside = graph_outputs_.count(out) > 0;
        for (int reader : consumers(out)) outside = outside || !covered.count(reader);
        if (outside)
          fail(label(k) + ": its output '" + out +
               "' is used too; only one output per layer can be followed");
      }
  }

  /// Appends a reading's layers and checks the last against the ONNX operators' output.
  int add_layers(Reading& reading, const at::Tensor& real, int anchor) {
    const onnx::NodeProto& n = node_at(anchor);
    int index = -1;
    for (std::size_t k = 0; k < reading.layers.size(); ++k) {
      Layer& layer = reading.layers[k];
      if (k > 0) layer.inputs = {index};
      layer.name = n.name().empty() ? n.op_type() : n.name();  // until name_layers()
      const bool unknown = layer.kind == LayerKind::unknown;
      try {
        index = builder_->add(layer, unknown ? real : at::Tensor());
      } catch (const std::invalid_argument& e) {
        fail(label(anchor) + ": " + e.what());
      }
      origins_.push_back({n.name(), reading.words[k]});
    }
    const Layer& last = builder_->network().layers.back();
    if (last.kind != LayerKind::unknown && !agree(builder_->value(index), real))
      fail(label(anchor) + ": our reading of it as " + last.type +
           " gives a different output from the ONNX operator's (max difference " +
           std::to_string(max_difference(builder_->value(index), real)) +
           "); it cannot be analysed");
    return index;
  }

  // ---- Patterns of several nodes

  std::optional<Reading> match_pattern(int i, const std::string& x) {
    const std::string& op = node_at(i).op_type();
    std::optional<Reading> r;
    if (op == "Div" || op == "Mul") r = match_gelu(i, x);
    if (!r && op == "Mul") r = match_gelu_tanh(i, x);
    if (!r && op == "Mul") r = match_softplus(i, x);
    if (op == "Sigmoid") r = match_silu(i, x);
    if (op == "MatMul") r = match_linear(i, x);
    if (op == "ReduceMean") r = match_layer_norm(i, x);
    if (op == "Pad") r = match_padded_avg_pool(i, x);
    if (op == "Slice") r = match_slice_padding(i, x);
    return r;
  }

  Reading one_layer(std::vector<int> nodes, Layer layer, const std::string& x,
                    std::string word) const {
    Reading r;
    layer.inputs = {layer_of(x)};
    r.add(std::move(layer), std::move(word));
    r.output = node_at(nodes.back()).output(0);
    r.nodes = std::move(nodes);
    return r;
  }

  // nn.GELU() (torch.onnx symbolic_opset9.gelu): Mul(Mul(x, Add(Erf(Div(x, √2)), 1)), 0.5).
  std::optional<Reading> match_gelu(int i, const std::string& x) const {
    const onnx::NodeProto& n = node_at(i);
    if (!op_with_scalar(n, "Div", x, std::sqrt(2.0), false) &&
        !op_with_scalar(n, "Mul", x, std::sqrt(0.5)))
      return std::nullopt;
    const int erf_node =
        follow(n.output(0), [](const onnx::NodeProto& c) { return c.op_type() == "Erf"; });
    if (erf_node < 0) return std::nullopt;
    const std::string& e = node_at(erf_node).output(0);
    const int plus_one =
        follow(e, [&](const onnx::NodeProto& c) { return op_with_scalar(c, "Add", e, 1.0); });
    if (plus_one < 0) return std::nullopt;
    const std::string& a = node_at(plus_one).output(0);
    const int times_x =
        follow(a, [&](const onnx::NodeProto& c) { return op_with(c, "Mul", x, a); });
    if (times_x < 0) return std::nullopt;
    const std::string& m = node_at(times_x).output(0);
    const int half =
        follow(m, [&](const onnx::NodeProto& c) { return op_with_scalar(c, "Mul", m, 0.5); });
    if (half < 0) return std::nullopt;
    return one_layer({i, erf_node, plus_one, times_x, half}, activation_layer(Activation::gelu), x,
                     "gelu");
  }

  // nn.GELU('tanh') (symbolic_opset9.gelu): 0.5·(x·(1 + tanh(√(2/π)·(x + 0.044715·(x·(x·x)))))).
  std::optional<Reading> match_gelu_tanh(int i, const std::string& x) const {
    const onnx::NodeProto& n = node_at(i);
    if (!op_with(n, "Mul", x, x)) return std::nullopt;
    std::vector<int> nodes{i};
    const auto step = [&](auto accept) {
      const int next = follow(node_at(nodes.back()).output(0), accept);
      if (next >= 0) nodes.push_back(next);
      return next >= 0;
    };
    const auto out = [&]() -> const std::string& { return node_at(nodes.back()).output(0); };
    const bool matched =
        step([&](const onnx::NodeProto& c) { return op_with(c, "Mul", x, out()); }) &&
        step([&](const onnx::NodeProto& c) { return op_with_scalar(c, "Mul", out(), 0.044715); }) &&
        step([&](const onnx::NodeProto& c) { return op_with(c, "Add", x, out()); }) &&
        step([&](const onnx::NodeProto& c) {
          return op_with_scalar(c, "Mul", out(), std::sqrt(2 / kPi));
        }) &&
        step([](const onnx::NodeProto& c) { return c.op_type() == "Tanh"; }) &&
        step([&](const onnx::NodeProto& c) { return op_with_scalar(c, "Add", out(), 1.0); }) &&
        step([&](const onnx::NodeProto& c) { return op_with(c, "Mul", x, out()); }) &&
        step([&](const onnx::NodeProto& c) { return op_with_scalar(c, "Mul", out(), 0.5); });
    if (!matched) return std::nullopt;
    return one_layer(nodes, activation_layer(Activation::gelu_tanh), x, "gelu");
  }

  // nn.SiLU(): Mul(x, Sigmoid(x)).
  std::optional<Reading> match_silu(int i, const std::string& x) const {
    const std::string& s = node_at(i).output(0);
    const int mul = follow(s, [&](const onnx::NodeProto& c) { return op_with(c, "Mul", x, s); });
    if (mul < 0) return std::nullopt;
    return one_layer({i, mul}, activation_layer(Activation::silu), x, "silu");
  }

  // nn.Softplus(β ≠ 1) (symbolic_opset9.softplus): Div(Softplus(Mul(x, β)), β).
  std::optional<Reading> match_softplus(int i, const std::string& x) const {
    const std::optional<double> beta = scalar_operand(node_at(i), x);
    if (!beta || *beta <= 0) return std::nullopt;
    const std::string& scaled = node_at(i).output(0);
    const int sp =
        follow(scaled, [](const onnx::NodeProto& c) { return c.op_type() == "Softplus"; });
    if (sp < 0) return std::nullopt;
    const std::string& s = node_at(sp).output(0);
    const int div = follow(
        s, [&](const onnx::NodeProto& c) { return op_with_scalar(c, "Div", s, *beta, false); });
    if (div < 0) return std::nullopt;
    return one_layer({i, sp, div},
                     activation_layer(Activation::softplus, *beta, kSoftplusThreshold), x,
                     "softplus");
  }

  // MatMul(x, W) with a constant 2-D W, and a bias Add(·, b) after it when there is one: how
  // torch.onnx writes nn.Linear on an input of rank ≠ 2 (and without bias).
  std::optional<Reading> match_linear(int i, const std::string& x) const {
    const onnx::NodeProto& n = node_at(i);
    const at::Tensor* w = constant(n.input(1));
    if (n.input(0) != x || !w || w->dim() != 2) return std::nullopt;
    Layer layer = linear_layer(w->t(), at::Tensor());
    std::vector<int> nodes{i};
    const std::string& y = n.output(0);
    const int add = follow(y, [&](const onnx::NodeProto& c) {
      if (c.op_type() != "Add" || c.input_size() != 2) return false;
      const at::Tensor* b = constant(c.input(0) == y ? c.input(1) : c.input(0));
      if (!b || b->numel() != w->size(1) || (b->dim() > 0 && b->size(-1) != w->size(1)))
        return false;
      return c.input(0) == y || c.input(1) == y;
    });
    if (add >= 0) {
      const onnx::NodeProto& a = node_at(add);
      layer.bias = to_vector(*constant(a.input(0) == y ? a.input(1) : a.input(0)));
      nodes.push_back(add);
    }
    return one_layer(nodes, std::move(layer), x, "linear");
  }

  // LayerNorm as torch.onnx writes it before opset 17 (symbolic_opset9.native_layer_norm):
  // μ = ReduceMean(x), d = x − μ, y = d / √(ReduceMean(d²) + ε), then Mul(γ) and Add(β).
  std::optional<Reading> match_layer_norm(int i, const std::string& x) const {
    const onnx::NodeProto& mean = node_at(i);
    const at::Tensor& xv = value_of(x);
    const std::int64_t rank = xv.dim();
    IntList axes = attr_ints(mean, "axes");
    if (mean.input(0) != x || mean.input_size() != 1 || attr_int(mean, "keepdims", 1) != 1 ||
        axes.empty())
      return std::nullopt;
    for (std::int64_t& a : axes) a = a < 0 ? a + rank : a;
    std::sort(axes.begin(), axes.end());
    for (std::size_t k = 0; k < axes.size(); ++k)
      if (axes[k] != rank - static_cast<std::int64_t>(axes.size() - k)) return std::nullopt;
    if (axes.front() < 1) return std::nullopt;
    const std::string& mu = mean.output(0);
    const int sub = follow(mu, [&](const onnx::NodeProto& c) {
      return c.op_type() == "Sub" && c.input_size() == 2 && c.input(0) == x && c.input(1) == mu;
    });
    if (sub < 0) return std::nullopt;
    const std::string& d = node_at(sub).output(0);
    const std::vector<int>& readers = consumers(d);
    if (graph_outputs_.count(d) || readers.size() != 2) return std::nullopt;
    const int square = readers[0], quotient = readers[1];
    if (!op_with_scalar(node_at(square), "Pow", d, 2.0, false)) return std::nullopt;
    const auto same_mean = [&](const onnx::NodeProto& c) {
      return c.op_type() == "ReduceMean" && c.input_size() == 1 &&
             attr_int(c, "keepdims", 1) == 1 && attr_ints(c, "axes") == attr_ints(mean, "axes");
    };
    const int variance = follow(node_at(square).output(0), same_mean);
    if (variance < 0) return std::nullopt;
    const std::string& v = node_at(variance).output(0);
    const int plus_eps = follow(v, [&](const onnx::NodeProto& c) {
      return c.op_type() == "Add" && scalar_operand(c, v).has_value();
    });
    if (plus_eps < 0) return std::nullopt;
    const double eps = *scalar_operand(node_at(plus_eps), v);
    const int root = follow(node_at(plus_eps).output(0),
                            [](const onnx::NodeProto& c) { return c.op_type() == "Sqrt"; });
    if (root < 0) return std::nullopt;
    const std::string& s = node_at(root).output(0);
    if (follow(s, [&](const onnx::NodeProto& c) {
          return c.op_type() == "Div" && c.input_size() == 2 && c.input(0) == d && c.input(1) == s;
        }) != quotient)
      return std::nullopt;
    Layer layer;
    layer.kind = LayerKind::layer_norm;
    layer.normalized_shape.assign(xv.sizes().begin() + axes.front(), xv.sizes().end());
    layer.eps = eps;
    layer.type = "LayerNorm";
    std::vector<int> nodes{i, sub, square, variance, plus_eps, root, quotient};
    // The elementwise affine part: Mul by γ, then Add β, constants of the normalized shape.
    const IntList normalized(layer.normalized_shape.begin(), layer.normalized_shape.end());
    const auto affine = [&](const char* op, std::vector<double>& values) {
      const std::string& y = node_at(nodes.back()).output(0);
      const int next = follow(y, [&](const onnx::NodeProto& c) {
        if (c.op_type() != op || c.input_size() != 2 || (c.input(0) != y && c.input(1) != y))
          return false;
        const at::Tensor* t = constant(c.input(0) == y ? c.input(1) : c.input(0));
        return t && broadcasts_to(sizes_of(*t), normalized);
      });
      if (next < 0) return false;
      const onnx::NodeProto& c = node_at(next);
      values = to_vector(constant(c.input(0) == y ? c.input(1) : c.input(0))->expand(normalized));
      nodes.push_back(next);
      return true;
    };
    if (affine("Mul", layer.scale)) affine("Add", layer.bias);
    return one_layer(nodes, std::move(layer), x, "layer_norm");
  }

  // nn.AvgPool1d/2d (symbolic_opset11.avg_pool): a zero Pad, always written and often of 0,
  // then AveragePool without pads: PyTorch's padding with count_include_pad=True.
  std::optional<Reading> match_padded_avg_pool(int i, const std::string& x) const {
    const onnx::NodeProto& pad = node_at(i);
    const int pool = follow(pad.output(0),
                            [](const onnx::NodeProto& c) { return c.op_type() == "AveragePool"; });
    if (pool < 0 || pad.input(0) != x) return std::nullopt;
    const at::Tensor& xv = value_of(x);
    const std::int64_t rank = xv.dim();
    std::vector<at::Tensor> in;
    for (const std::string& name : pad.input())
      in.push_back(name.empty() ? at::Tensor() : value_of(name));
    PadSpec p;
    try {
      p = pad_spec(pad, in);
    } catch (const Unsupported&) {
      return std::nullopt;
    }
    const onnx::NodeProto& avg = node_at(pool);
    const IntList kernel = attr_ints(avg, "kernel_shape");
    if ((rank != 3 && rank != 4) || p.mode != "constant" || p.value != 0 || p.pads[0] ||
        p.pads[1] || p.pads[static_cast<std::size_t>(rank)] ||
        p.pads[static_cast<std::size_t>(rank) + 1] ||
        static_cast<std::int64_t>(kernel.size()) != rank - 2 || !all_zero(attr_ints(avg, "pads")) ||
        attr_string(avg, "auto_pad", "NOTSET") != "NOTSET")
      return std::nullopt;
    PoolParams params;
    params.spatial_dims = static_cast<int>(rank - 2);
    IntList padding;
    for (std::int64_t a = 2; a < rank; ++a) {
      const std::int64_t before = p.pads[static_cast<std::size_t>(a)];
      if (before != p.pads[static_cast<std::size_t>(rank + a)] || before < 0 ||
          2 * before > kernel[static_cast<std::size_t>(a - 2)])
        return std::nullopt;
      padding.push_back(before);
    }
    const std::size_t d = kernel.size();
    params.kernel = extent_of(kernel, d, 1);
    params.stride = extent_of(attr_ints(avg, "strides", IntList(d, 1)), d, 1);
    params.padding = extent_of(padding, d, 0);
    params.ceil_mode = attr_int(avg, "ceil_mode", 0) != 0;
    params.count_include_pad = true;
    if (ceil_adds_window(params, xv)) return std::nullopt;
    Layer layer;
    try {
      layer = avg_pool_layer(params, xv.size(1));
    } catch (const std::invalid_argument&) {
      return std::nullopt;
    }
    return one_layer({i, pool}, std::move(layer), x, d == 1 ? "avg_pool1d" : "avg_pool2d");
  }

  /// One Concat(Slice(x), x, Slice(x)) along a spatial axis: x padded by copies of its own
  /// border, as torch.onnx writes circular padding (symbolic_opset9._pad_circular).
  struct SlicePadding {
    std::int64_t axis = 0, before = 0, after = 0;
    bool circular = true;   ///< before = x[n − p:], after = x[:q]
    bool torch_bug = true;  ///< before = x[n − p − 1 : n − 1]: pytorch/pytorch#86690
    std::vector<int> nodes;
    std::string output;
  };

  // `sizes`: those of x (for a second axis, of the first Concat's output, not yet computed).
  std::optional<SlicePadding> match_slice_concat(const std::string& x, const IntList& sizes,
                                                 int concat) const {
    const onnx::NodeProto& c = node_at(concat);
    const auto rank = static_cast<std::int64_t>(sizes.size());
    if (c.op_type() != "Concat" || (rank != 3 && rank != 4)) return std::nullopt;
    SlicePadding p;
    p.axis = attr_int(c, "axis", 0);
    if (p.axis < 0) p.axis += rank;
    if (p.axis < 2 || p.axis >= rank) return std::nullopt;
    const std::int64_t n = sizes[static_cast<std::size_t>(p.axis)];
    bool seen_x = false;
    for (const std::string& part : c.input()) {
      if (part == x) {
        if (seen_x) return std::nullopt;
        seen_x = true;
        continue;
      }
      const auto producer = producer_.find(part);
      if (producer == producer_.end() || sole_consumer(part) != concat) return std::nullopt;
      const onnx::NodeProto& s = node_at(producer->second);
      if (s.op_type() != "Slice" || s.input(0) != x) return std::nullopt;
      // One axis, step 1, bounds constant (inputs from opset 10, attributes before).
      IntList starts, ends, axes, steps;
      if (opset_ >= 10) {
        const at::Tensor* t0 = s.input_size() > 1 ? constant(s.input(1)) : nullptr;
        const at::Tensor* t1 = s.input_size() > 2 ? constant(s.input(2)) : nullptr;
        if (!t0 || !t1) return std::nullopt;
        starts = ints_of(*t0);
        ends = ints_of(*t1);
        if (s.input_size() > 3 && !s.input(3).empty()) {
          if (!constant(s.input(3))) return std::nullopt;
          axes = ints_of(*constant(s.input(3)));
        }
        if (s.input_size() > 4 && !s.input(4).empty()) {
          if (!constant(s.input(4))) return std::nullopt;
          steps = ints_of(*constant(s.input(4)));
        }
      } else {
        starts = attr_ints(s, "starts");
        ends = attr_ints(s, "ends");
        axes = attr_ints(s, "axes");
      }
      if (starts.size() != 1 || ends.size() != 1 || axes.size() != 1 ||
          (!steps.empty() && steps != IntList{1}) ||
          (axes[0] < 0 ? axes[0] + rank : axes[0]) != p.axis)
        return std::nullopt;
      const auto [begin, end] = slice_bounds(starts[0], ends[0], n);
      const std::int64_t length = end - begin;
      if (length <= 0) return std::nullopt;
      if (!seen_x) {
        if (p.before) return std::nullopt;
        p.before = length;
        p.circular = p.circular && end == n;
        p.torch_bug = p.torch_bug && end == n - 1;
      } else {
        if (p.after) return std::nullopt;
        p.after = length;
        p.circular = p.circular && begin == 0;
        p.torch_bug = p.torch_bug && begin == 0;
      }
      p.nodes.push_back(producer->second);
    }
    if (!seen_x || p.nodes.empty()) return std::nullopt;
    p.nodes.push_back(concat);
    p.output = c.output(0);
    return p;
  }

  // Circular padding (Conv padding_mode='circular'): one Slice/Concat group per spatial axis,
  // the second padding the first one's output. torch.onnx before PyTorch 2.0 takes the wrong
  // slice for the part before x (x[n − p − 1 : n − 1] instead of x[n − p :],
  // pytorch/pytorch#86690, fixed by #86984): such a file does not compute circular padding, and
  // becomes one unknown layer that says so.
  std::optional<Reading> match_slice_padding(int i, const std::string& x) {
    const int concat = sole_consumer(node_at(i).output(0));
    if (concat < 0) return std::nullopt;
    IntList sizes = sizes_of(value_of(x));
    std::optional<SlicePadding> first = match_slice_concat(x, sizes, concat);
    if (!first) return std::nullopt;
    std::vector<SlicePadding> parts{*first};
    const std::string y = first->output;
    sizes[static_cast<std::size_t>(first->axis)] += first->before + first->after;
    const std::vector<int>& readers = consumers(y);
    const auto second_concat = std::find_if(
        readers.begin(), readers.end(), [&](int r) { return node_at(r).op_type() == "Concat"; });
    if (!graph_outputs_.count(y) && second_concat != readers.end()) {
      const std::optional<SlicePadding> second = match_slice_concat(y, sizes, *second_concat);
      // The first Concat's output must be read by the second group only.
      if (second && second->axis != first->axis &&
          std::all_of(readers.begin(), readers.end(), [&](int r) {
            return std::find(second->nodes.begin(), second->nodes.end(), r) != second->nodes.end();
          }))
        parts.push_back(*second);
    }
    Reading r;
    for (const SlicePadding& part : parts)
      r.nodes.insert(r.nodes.end(), part.nodes.begin(), part.nodes.end());
    std::sort(r.nodes.begin(), r.nodes.end());
    r.output = parts.back().output;
    const bool circular =
        std::all_of(parts.begin(), parts.end(), [](const SlicePadding& p) { return p.circular; });
    const bool torch_bug =
        std::all_of(parts.begin(), parts.end(), [](const SlicePadding& p) { return p.torch_bug; });
    const std::int64_t rank = value_of(x).dim();
    Layer layer;
    if (circular) {
      IntList pads(static_cast<std::size_t>(2 * (rank - 2)), 0);
      for (const SlicePadding& p : parts) {
        pads[static_cast<std::size_t>(p.axis - 2)] = p.before;
        pads[static_cast<std::size_t>(rank - 2 + p.axis - 2)] = p.after;
      }
      layer = pad_layer(PadMode::circular, pads);
    } else {
      layer.kind = LayerKind::unknown;
      layer.type = "onnx::Concat";
      layer.note = "padding by Slice and Concat that is not circular padding";
      if (torch_bug) {
        layer.note +=
            ": it repeats x[n−p−1 : n−1] before x where circular padding repeats "
            "x[n−p : n]. torch.onnx before PyTorch 2.0 writes padding_mode='circular' "
            "this way (pytorch/pytorch#86690), so this file does not compute the "
            "PyTorch model; re-export it with PyTorch ≥ 2.0, or analyse its TorchScript";
        const std::string warning =
            "the file's circular padding is torch.onnx's faulty export (PyTorch < 2.0, "
            "pytorch/pytorch#86690): it does not compute what the PyTorch model computes, and "
            "is analysed as it is written";
        if (std::find(warnings_.begin(), warnings_.end(), warning) == warnings_.end())
          warnings_.push_back(warning);
      }
    }
    layer.inputs = {layer_of(x)};
    r.add(std::move(layer), "pad");
    return r;
  }

  // ---- Single nodes

  Reading single(int i, Layer layer, std::string word, std::vector<int> inputs) const {
    Reading r;
    layer.inputs = std::move(inputs);
    r.add(std::move(layer), std::move(word));
    r.nodes = {i};
    r.output = node_at(i).output(0);
    return r;
  }

  Reading alias(int i) const {
    Reading r;
    r.nodes = {i};
    r.output = node_at(i).output(0);
    return r;
  }

  /// A layer the analysis does not understand; its output is the ONNX operator's. The network
  /// keeps its first network input only (validate() wants one input for unknown layers).
  Reading unknown(int i, const std::string& note) const {
    const onnx::NodeProto& n = node_at(i);
    Layer layer;
    layer.kind = LayerKind::unknown;
    layer.type = "onnx::" + n.op_type();
    layer.note = note.empty()
                     ? "the ONNX operator " + n.op_type() + " is not a layer this tool understands"
                     : note;
    std::vector<int> inputs;
    for (const std::string& name : n.input())
      if (!name.empty() && layer_of(name) >= 0 &&
          std::find(inputs.begin(), inputs.end(), layer_of(name)) == inputs.end())
        inputs.push_back(layer_of(name));
    return single(i, std::move(layer), snake_case(n.op_type()), inputs);
  }

  static Layer linear_layer(const at::Tensor& weight, const at::Tensor& bias) {
    Layer layer;
    layer.kind = LayerKind::conv;
    layer.linear = true;
    layer.spec.weight_dim0 = weight.size(0);
    layer.spec.weight_dim1 = weight.size(1);
    layer.weight = to_vector(weight);
    if (bias.defined()) layer.bias = to_vector(bias);
    layer.type = "Linear";
    return layer;
  }

  // Whether PyTorch's ceil_mode adds a last window that floor mode does not have: an average
  // pool is then not one convolution.
  static bool ceil_adds_window(const PoolParams& p, const at::Tensor& x) {
    if (!p.ceil_mode) return false;
    for (int d = 2 - p.spatial_dims; d < 2; ++d) {
      const std::int64_t in = x.size(x.dim() - 2 + d);
      if (pool_output_size(in, p.kernel[d], p.stride[d], p.padding[d], 1, true) !=
          pool_output_size(in, p.kernel[d], p.stride[d], p.padding[d], 1, false))
        return true;
    }
    return false;
  }

  /// What a node with the network input `x` becomes; `real` is its ONNX output.
  Reading describe(int i, const std::string& x, const at::Tensor& real) {
    const onnx::NodeProto& n = node_at(i);
    const std::string& op = n.op_type();
    const at::Tensor& xv = value_of(x);
    const std::vector<int> from_x{layer_of(x)};
    const bool x_first = n.input(0) == x;
    // Every input but the first must be a constant for the layers below.
    bool rest_constant = x_first;
    for (int k = 1; k < n.input_size(); ++k)
      rest_constant = rest_constant && (n.input(k).empty() || constant(n.input(k)));

    if (op == "Conv" || op == "ConvTranspose") {
      if (!rest_constant) return unknown(i, "a convolution whose weight depends on the input");
      return describe_conv(i, x, op == "ConvTranspose");
    }
    if (op == "Gemm") {
      if (!rest_constant || attr_int(n, "transA", 0))
        return unknown(i, "Gemm with the input transposed or as its weight");
      const at::Tensor& b = *constant(n.input(1));
      const at::Tensor w =
          (attr_int(n, "transB", 0) ? b : b.t()).to(at::kDouble) * attr_float(n, "alpha", 1.0);
      at::Tensor bias;
      if (n.input_size() > 2 && !n.input(2).empty()) {
        // C broadcasts against (batch, out): a bias only when it is one value per output.
        const at::Tensor c = constant(n.input(2))->to(at::kDouble) * attr_float(n, "beta", 1.0);
        if (c.numel() == 1)
          bias = c.reshape({1}).expand({w.size(0)});
        else if (c.numel() == w.size(0) && c.size(-1) == w.size(0))
          bias = c.reshape({-1});
        else
          return unknown(i, "Gemm whose C is not one bias per output");
      }
      return single(i, linear_layer(w, bias), "linear", from_x);
    }
    if (op == "MatMul") {
      if (rest_constant) return unknown(i, "MatMul with a weight that is not a matrix");
      return unknown(
          i, x_first ? "the product of two network values" : "MatMul with the input on the right");
    }
    if (op == "BatchNormalization") {
      if (!rest_constant)
        return unknown(i, "BatchNormalization with statistics that depend on the input");
      if (attr_int(n, "training_mode", 0))
        return unknown(i,
                       "BatchNormalization in training mode (batch statistics): export the model "
                       "after model.eval()");
      const double eps = attr_float(n, "epsilon", 1e-5);
      const auto c = [&](int k) { return constant(n.input(k))->to(at::kDouble); };
      const at::Tensor scale = c(1) / at::sqrt(c(4) + eps);
      Layer layer;
      layer.kind = LayerKind::batch_norm;
      layer.eps = eps;
      layer.scale = to_vector(scale);
      layer.bias = to_vector(c(2) - c(3) * scale);  // y = γ(x − μ)/√(σ² + ε) + β
      layer.type = xv.dim() == 4 ? "BatchNorm2d" : xv.dim() == 5 ? "BatchNorm3d" : "BatchNorm1d";
      return single(i, std::move(layer), "batch_norm", from_x);
    }
    if (op == "LayerNormalization") {
      if (!rest_constant)
        return unknown(i, "LayerNormalization with a gain that depends on the input");
      const std::int64_t axis = axis_of(attr_int(n, "axis", -1), xv.dim());
      if (axis == 0) return unknown(i, "LayerNormalization over the batch dimension");
      const IntList normalized(xv.sizes().begin() + axis, xv.sizes().end());
      Layer layer;
      layer.kind = LayerKind::layer_norm;
      layer.normalized_shape.assign(normalized.begin(), normalized.end());
      layer.eps = attr_float(n, "epsilon", 1e-5);
      layer.scale = to_vector(constant(n.input(1))->expand(normalized));
      if (n.input_size() > 2 && !n.input(2).empty())
        layer.bias = to_vector(constant(n.input(2))->expand(normalized));
      layer.type = "LayerNorm";
      return single(i, std::move(layer), "layer_norm", from_x);
    }
    if (std::optional<Reading> r = describe_activation(i, x, rest_constant)) return *r;
    if (op == "MaxPool" || op == "AveragePool" || op == "GlobalAveragePool" ||
        op == "GlobalMaxPool")
      return describe_pool(i, x);
    if (op == "Pad") {
      if (!rest_constant) return unknown(i, "Pad whose amounts depend on the input");
      const PadSpec p = pad_spec(n, inputs_of(i));
      if (all_zero(p.pads)) return alias(i);
      const std::int64_t rank = xv.dim();
      IntList spatial;
      for (std::int64_t a = 2; a < rank; ++a)
        spatial.push_back(p.pads[static_cast<std::size_t>(a)]);
      for (std::int64_t a = 2; a < rank; ++a)
        spatial.push_back(p.pads[static_cast<std::size_t>(rank + a)]);
      if ((rank != 3 && rank != 4) || p.pads[0] || p.pads[1] ||
          p.pads[static_cast<std::size_t>(rank)] || p.pads[static_cast<std::size_t>(rank) + 1] ||
          std::any_of(spatial.begin(), spatial.end(), [](std::int64_t v) { return v < 0; }))
        return unknown(i, "Pad of the batch or channel axes, of a 3-D input, or a crop");
      if (p.mode == "constant" && p.value != 0)
        return unknown(i, "padding with the constant " + std::to_string(p.value));
      const PadMode mode = p.mode == "reflect" ? PadMode::reflect
                           : p.mode == "edge"  ? PadMode::replicate
                           : p.mode == "wrap"  ? PadMode::circular
                                               : PadMode::zeros;
      return single(i, pad_layer(mode, spatial), "pad", from_x);
    }
    if (op == "Identity") return alias(i);
    if (op == "Cast") {
      if (is_floating(real.scalar_type()) && is_floating(xv.scalar_type())) return alias(i);
      return unknown(i, "Cast of the input to " + std::string(c10::toString(real.scalar_type())));
    }
    if (op == "Flatten" || op == "Reshape" || op == "Squeeze" || op == "Unsqueeze" ||
        op == "Dropout") {
      if (!x_first) return unknown(i, "");
      if (op == "Dropout" && n.input_size() > 2 && !n.input(2).empty() &&
          (!constant(n.input(2)) || constant(n.input(2))->item<bool>()))
        return unknown(i, "Dropout in training mode: export the model after model.eval()");
      const std::int64_t flatten_axis = attr_int(n, "axis", 1);
      if (op == "Flatten" && (flatten_axis == 0 || flatten_axis == -xv.dim()))
        return unknown(i, "Flatten with axis 0 merges the batch into one sample");
      // Row-major reshapes that keep the batch size keep each sample's values together.
      if (real.dim() == 0 || real.size(0) != xv.size(0) || real.scalar_type() != xv.scalar_type())
        return unknown(i, op + " mixes the samples of the batch");
      Layer layer;
      layer.kind = LayerKind::reshape;
      layer.output_shape.assign(real.sizes().begin() + 1, real.sizes().end());
      layer.type = op;
      return single(i, std::move(layer), snake_case(op), from_x);
    }
    if (op == "Add" || op == "Sub" || op == "Mul" || op == "Div" || op == "Neg" || op == "Sum")
      return describe_arithmetic(i, x);
    if (op == "Transpose")
      return unknown(
          i, "Transpose permutes the axes: an isometry, but not a layer this tool can describe");
    return unknown(i, "");
  }

  Reading describe_conv(int i, const std::string& x, bool transposed) const {
    const onnx::NodeProto& n = node_at(i);
    const at::Tensor& w = *constant(n.input(1));
    const at::Tensor* b =
        n.input_size() > 2 && !n.input(2).empty() ? constant(n.input(2)) : nullptr;
    const auto d = static_cast<std::size_t>(w.dim() - 2);
    if (d != 1 && d != 2)
      return unknown(i, std::to_string(d) + "-D convolution: only 1-D and 2-D are analysed");
    const Window g = window_of(n, value_of(x), IntList(w.sizes().begin() + 2, w.sizes().end()));
    if (transposed && !all_zero(attr_ints(n, "output_padding", IntList(d, 0))))
      return unknown(i,
                     "ConvTranspose with output_padding: the analysis assumes output_padding = 0");
    if (transposed && !symmetric(g.pads))
      return unknown(i, "ConvTranspose with uneven pads (an asymmetric crop of its output)");
    Layer conv;
    conv.kind = LayerKind::conv;
    ConvSpec& s = conv.spec;
    s.spatial_dims = static_cast<int>(d);
    s.weight_dim0 = w.size(0);
    s.weight_dim1 = w.size(1);
    s.kernel = extent_of(g.kernel, d, 1);
    s.stride = extent_of(g.stride, d, 1);
    s.dilation = extent_of(g.dilation, d, 1);
    s.groups = attr_int(n, "group", 1);
    s.transposed = transposed;
    conv.weight = to_vector(w);
    if (b) conv.bias = to_vector(*b);
    const std::string dims = std::to_string(d) + "d";
    conv.type = (transposed ? "ConvTranspose" : "Conv") + dims;
    Reading r;
    r.nodes = {i};
    r.output = n.output(0);
    if (symmetric(g.pads)) {
      s.padding =
          extent_of(IntList(g.pads.begin(), g.pads.begin() + static_cast<std::ptrdiff_t>(d)), d, 0);
      conv.inputs = {layer_of(x)};
    } else {
      // Uneven pads (auto_pad SAME with an even kernel): a zero pad layer, then a 'valid' conv.
      Layer pad = pad_layer(PadMode::zeros, g.pads);
      pad.inputs = {layer_of(x)};
      r.add(std::move(pad), "pad");
    }
    r.add(std::move(conv), (transposed ? "conv_transpose" : "conv") + dims);
    return r;
  }

  std::optional<Reading> describe_activation(int i, const std::string& x,
                                             bool rest_constant) const {
    const onnx::NodeProto& n = node_at(i);
    const std::string& op = n.op_type();
    const std::vector<int> from_x{layer_of(x)};
    if (op == "Relu") return single(i, activation_layer(Activation::relu), "relu", from_x);
    if (op == "Sigmoid") return single(i, activation_layer(Activation::sigmoid), "sigmoid", from_x);
    if (op == "Tanh") return single(i, activation_layer(Activation::tanh), "tanh", from_x);
    if (op == "LeakyRelu")
      return single(i, activation_layer(Activation::leaky_relu, attr_float(n, "alpha", 0.01)),
                    "leaky_relu", from_x);
    if (op == "Elu")
      return single(i, activation_layer(Activation::elu, attr_float(n, "alpha", 1.0)), "elu",
                    from_x);
    if (op == "Softplus")
      return single(i, activation_layer(Activation::softplus, 1.0, kSoftplusThreshold), "softplus",
                    from_x);
    if (op == "Gelu") {  // opset 20
      const bool tanh = attr_string(n, "approximate", "none") == "tanh";
      return single(i, activation_layer(tanh ? Activation::gelu_tanh : Activation::gelu), "gelu",
                    from_x);
    }
    if (op != "Clip") return std::nullopt;
    if (!rest_constant) return unknown(i, "Clip with bounds that depend on the input");
    // Bounds: inputs from opset 11, attributes before (whose defaults are ±FLT_MAX).
    double low = -kInf, high = kInf;
    if (opset_ >= 11) {
      if (n.input_size() > 1 && !n.input(1).empty())
        low = scalar_of(*constant(n.input(1)), "Clip's min");
      if (n.input_size() > 2 && !n.input(2).empty())
        high = scalar_of(*constant(n.input(2)), "Clip's max");
    } else {
      low = attr_float(n, "min", -kInf);
      high = attr_float(n, "max", kInf);
    }
    const double big = std::numeric_limits<float>::max();
    if (low <= -big) low = -kInf;
    if (high >= big) high = kInf;
    if (low == -kInf && high == kInf) return alias(i);
    if (low == 0 && high == kInf)
      return single(i, activation_layer(Activation::relu), "clamp", from_x);
    Layer layer = activation_layer(Activation::hardtanh, low, high);
    if (low == 0 && high == 6) layer.type = "ReLU6";
    return single(i, std::move(layer), low == 0 && high == 6 ? "relu6" : "hardtanh", from_x);
  }

  Reading describe_pool(int i, const std::string& x) const {
    const onnx::NodeProto& n = node_at(i);
    const std::string& op = n.op_type();
    const at::Tensor& xv = value_of(x);
    const std::int64_t rank = xv.dim();
    if (rank != 3 && rank != 4)
      return unknown(
          i, op + " of a " + std::to_string(rank - 2) + "-D input: only 1-D and 2-D are analysed");
    const auto d = static_cast<std::size_t>(rank - 2);
    const std::string dims = std::to_string(d) + "d";
    const std::vector<int> from_x{layer_of(x)};
    PoolParams p;
    p.spatial_dims = static_cast<int>(d);
    if (op == "GlobalAveragePool" || op == "GlobalMaxPool") {
      const IntList spatial(xv.sizes().begin() + 2, xv.sizes().end());
      p.kernel = p.stride = extent_of(spatial, d, 1);
      if (op == "GlobalMaxPool") {
        Layer layer;
        layer.kind = LayerKind::max_pool;
        layer.pool = p;
        layer.type = "AdaptiveMaxPool" + dims;
        return single(i, std::move(layer), "adaptive_max_pool" + dims, from_x);
      }
      Layer layer = avg_pool_layer(p, xv.size(1));
      layer.type = "AdaptiveAvgPool" + dims;
      return single(i, std::move(layer), "adaptive_avg_pool" + dims, from_x);
    }
    const Window g = pool_window(n, xv);
    p.kernel = extent_of(g.kernel, d, 1);
    p.stride = extent_of(g.stride, d, 1);
    p.dilation = extent_of(g.dilation, d, 1);
    p.ceil_mode = attr_int(n, "ceil_mode", 0) != 0;
    const IntList begin(g.pads.begin(), g.pads.begin() + static_cast<std::ptrdiff_t>(d));
    bool fits = symmetric(g.pads);  // PyTorch pads evenly, at most half the kernel
    for (std::size_t k = 0; k < d; ++k) fits = fits && 2 * begin[k] <= g.kernel[k];
    if (op == "MaxPool") {
      if (!fits) return unknown(i, "MaxPool with uneven pads, or pads over half the kernel");
      p.padding = extent_of(begin, d, 0);
      Layer layer;
      layer.kind = LayerKind::max_pool;
      layer.pool = p;
      layer.type = "MaxPool" + dims;
      return single(i, std::move(layer), "max_pool" + dims, from_x);
    }
    p.count_include_pad = attr_int(n, "count_include_pad", 0) != 0;
    Reading r;
    r.nodes = {i};
    r.output = n.output(0);
    if (fits) {
      p.padding = extent_of(begin, d, 0);
    } else if (p.count_include_pad) {
      // Counted pads are zeros: a pad layer, then the pool without padding.
      Layer pad = pad_layer(PadMode::zeros, g.pads);
      pad.inputs = from_x;
      r.add(std::move(pad), "pad");
    } else {
      return unknown(i, "AveragePool with uneven pads that are not counted");
    }
    if (p.ceil_mode && (!fits || ceil_adds_window(p, xv)))
      return unknown(i, "AveragePool with ceil_mode adding a partial window: not one convolution");
    Layer layer;
    try {
      layer = avg_pool_layer(p, xv.size(1));
    } catch (const std::invalid_argument& e) {
      return unknown(i, e.what());
    }
    if (r.layers.empty()) layer.inputs = from_x;
    r.add(std::move(layer), "avg_pool" + dims);
    return r;
  }

  Reading describe_arithmetic(int i, const std::string& x) const {
    const onnx::NodeProto& n = node_at(i);
    const std::string& op = n.op_type();
    Layer layer;
    layer.kind = LayerKind::affine;
    if (op == "Neg") {
      layer.affine_scale =
          to_constant(at::scalar_tensor(-1.0, at::TensorOptions().dtype(at::kDouble)));
      layer.type = "Scale";
      return single(i, std::move(layer), "neg", {layer_of(x)});
    }
    if (n.input_size() != 2) return unknown(i, "");
    const int a = layer_of(n.input(0)), b = layer_of(n.input(1));
    if (a >= 0 && b >= 0) {
      if (op == "Add" || op == "Sub" || op == "Sum") {
        layer.kind = LayerKind::add;
        layer.coefficients = {1, op == "Sub" ? -1.0 : 1.0};
        layer.type = op == "Sub" ? "Sub" : "Add";
        return single(i, std::move(layer), op == "Sub" ? "sub" : "add", {a, b});
      }
      return unknown(i, op == "Mul" ? "the product of two network values (not SiLU's x·sigmoid(x))"
                                    : "a quotient of two network values");
    }
    if (op == "Sum") return unknown(i, "");
    const bool x_first = a >= 0;
    const at::Tensor c = constant(n.input(x_first ? 1 : 0))->to(at::kDouble);
    const int input = x_first ? a : b;
    if (op == "Add" || op == "Sub") {
      layer.type = "Bias";
      if (op == "Sub" && !x_first) {  // c − x
        layer.affine_scale =
            to_constant(at::scalar_tensor(-1.0, at::TensorOptions().dtype(at::kDouble)));
        layer.affine_offset = to_constant(c);
      } else {
        layer.affine_offset = to_constant(op == "Sub" ? -c : c);
      }
      return single(i, std::move(layer), op == "Sub" ? "sub" : "add", {input});
    }
    if (op == "Div" && !x_first) return unknown(i, "a division by the input");
    layer.affine_scale = to_constant(op == "Div" ? 1.0 / c : c);
    layer.type = "Scale";
    return single(i, std::move(layer), op == "Div" ? "div" : "mul", {input});
  }

  // ---- Names

  /// Layer names as the TorchScript importer gives them: a module's path for the layers of a
  /// leaf module (its padding layer "path.padding"), "path.op" for an operation called in the
  /// forward of a module with children, "op" in the top-level forward; "#2", "#3" for repeats.
  void name_layers(Network& network) const {
    std::set<std::string> known;
    for (const onnx::NodeProto& n : graph_.node())
      if (const std::optional<std::string> path = module_path(n.name(), nullptr)) {
        for (std::size_t dot = path->find('.'); dot != std::string::npos;
             dot = path->find('.', dot + 1))
          known.insert(path->substr(0, dot));
        known.insert(*path);
      }
    std::set<std::string> parents;  // paths with submodules
    std::vector<std::optional<std::string>> paths(network.layers.size());
    for (const onnx::NodeProto& n : graph_.node())
      if (const std::optional<std::string> path = module_path(n.name(), &known))
        for (std::size_t dot = path->find('.'); dot != std::string::npos;
             dot = path->find('.', dot + 1))
          parents.insert(path->substr(0, dot));
    // Padding (a pad layer, or Slice/Concat padding we cannot describe) in a scope with another
    // layer is that layer's padding_mode.
    const auto padding = [&](std::size_t i) { return origins_[i].word == "pad"; };
    std::set<std::string> with_non_pad;
    for (std::size_t i = 1; i < network.layers.size(); ++i) {
      paths[i] = module_path(origins_[i].node_name, &known);
      if (paths[i] && !padding(i)) with_non_pad.insert(*paths[i]);
    }
    std::map<std::string, int> counts;
    for (std::size_t i = 1; i < network.layers.size(); ++i) {
      const Origin& origin = origins_[i];
      Layer& layer = network.layers[i];
      std::string name;
      if (!paths[i])
        name = origin.node_name.empty() ? origin.word : origin.node_name;
      else if (paths[i]->empty())
        name = origin.word;
      else if (parents.count(*paths[i]))
        name = *paths[i] + "." + origin.word;
      else if (padding(i) && with_non_pad.count(*paths[i]))
        name = *paths[i] + ".padding";
      else
        name = *paths[i];
      const int seen = ++counts[name];
      layer.name = seen == 1 ? name : name + "#" + std::to_string(seen);
    }
  }

  std::string path_, dir_;
  const onnx::GraphProto& graph_;
  int opset_ = 0;
  std::unordered_map<std::string, Entry> env_;
  std::unordered_map<std::string, int> producer_;
  std::unordered_map<std::string, std::vector<int>> consumers_;
  std::set<std::string> graph_outputs_;
  std::vector<bool> done_;
  std::unordered_map<std::string, int> unread_;  ///< per value, its readers not yet done
  std::unique_ptr<NetworkBuilder> builder_;
  std::vector<Origin> origins_;  ///< per builder layer
  std::vector<std::string> warnings_;
};

}  // namespace

ImportedModel import_onnx(const std::string& path, const std::optional<Shape>& input_shape) {
  std::ifstream file(path, std::ios::binary);
  if (!file) throw ImportError(path + ": cannot be opened for reading");
  onnx::ModelProto model;
  if (!model.ParseFromIstream(&file))
    throw ImportError(path + ": not an ONNX model (protobuf parse failed)");
  if (!model.has_graph()) throw ImportError(path + ": not an ONNX model (it has no graph)");
  return Importer(path, model).run(input_shape);
}

}  // namespace lipschitz::report
