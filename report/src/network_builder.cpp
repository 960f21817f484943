#include <report/network_builder.hpp>

#include <ATen/Functions.h>

#include <stdexcept>

namespace lipschitz::report {
namespace {

std::vector<int64_t> sizes_of(const Shape& shape) { return {shape.begin(), shape.end()}; }

Shape per_sample_shape(const at::Tensor& t) {
  return Shape(t.sizes().begin() + 1, t.sizes().end());
}

// The spatial entries of a 2-element extent, as ATen wants them (1-D layers use element [1]).
std::vector<int64_t> spatial(const Extent& e, int dims) {
  if (dims == 1) return {e[1]};
  return {e[0], e[1]};
}

at::Tensor tensor_of(const std::vector<double>& values, const Shape& shape,
                     const at::TensorOptions& options) {
  return at::tensor(values, at::TensorOptions().dtype(at::kDouble))
      .reshape(sizes_of(shape))
      .to(options);
}

// Per-channel vector viewed to broadcast against a batch-first (N, C, …) tensor.
at::Tensor channel_view(const std::vector<double>& values, const at::Tensor& x) {
  std::vector<int64_t> shape(x.dim(), 1);
  shape[1] = static_cast<int64_t>(values.size());
  return tensor_of(values, Shape(shape.begin(), shape.end()), x.options());
}

// Circular padding of the last `dims` dimensions by wrapping (pads no larger than the size).
at::Tensor pad_circular(at::Tensor x, const std::array<Index, 4>& pads, int dims) {
  for (int d = 0; d < dims; ++d) {
    const int64_t axis = x.dim() - dims + d;
    const int64_t n = x.size(axis);
    const Index before = pads[dims == 1 ? 2 : 2 * d], after = pads[dims == 1 ? 3 : 2 * d + 1];
    if (before > n || after > n)
      throw std::invalid_argument("circular padding larger than the input");
    x = at::cat({x.narrow(axis, n - before, before), x, x.narrow(axis, 0, after)}, axis);
  }
  return x;
}

at::Tensor run_conv(const Layer& layer, const at::Tensor& x) {
  const ConvSpec& s = layer.spec;
  if (layer.linear) {
    const at::Tensor w = tensor_of(layer.weight, {s.weight_dim0, s.weight_dim1}, x.options());
    const at::Tensor b = layer.bias.empty() ? at::Tensor() : tensor_of(layer.bias, {s.weight_dim0}, x.options());
    return at::linear(x, w, b);
  }
  // Average pooling runs as the convolution with its 1/divisor weight: the operator that is
  // bounded is then the one compared with the model's output.
  const int d = s.spatial_dims;
  at::Tensor input = x;
  if (s.padding_mode == PaddingMode::circular) {
    // PyTorch's padding_mode='circular': wrap by (k_eff − 1)/2 on each side, then no padding
    // (merge_circular_padding() only makes such layers from odd k_eff).
    if (s.transposed) throw std::invalid_argument(layer.name + ": circular transposed conv");
    const Extent k = effective_kernel(s);
    const std::array<Index, 4> pads{(k[0] - 1) / 2, (k[0] - 1) / 2, (k[1] - 1) / 2, (k[1] - 1) / 2};
    input = pad_circular(x, pads, d);
  }
  Shape wshape{s.weight_dim0, s.weight_dim1};
  for (int64_t k : spatial(s.kernel, d)) wshape.push_back(k);
  const at::Tensor w = tensor_of(layer.weight, wshape, x.options());
  const Index out = s.transposed ? s.weight_dim1 * s.groups : s.weight_dim0;
  const at::Tensor b = layer.bias.empty() ? at::Tensor() : tensor_of(layer.bias, {out}, x.options());
  const std::vector<int64_t> padding =
      s.padding_mode == PaddingMode::circular ? std::vector<int64_t>(d, 0) : spatial(s.padding, d);
  return at::convolution(input, w, b, spatial(s.stride, d), padding,
                         spatial(s.dilation, d), s.transposed, std::vector<int64_t>(d, 0),
                         s.groups);
}

at::Tensor run_pad(const Layer& layer, const at::Tensor& x) {
  const int dims = x.dim() >= 4 ? 2 : 1;
  const auto& p = layer.pads;
  // ATen's order: last dimension first.
  const std::vector<int64_t> amounts =
      dims == 2 ? std::vector<int64_t>{p[2], p[3], p[0], p[1]} : std::vector<int64_t>{p[2], p[3]};
  switch (layer.pad_mode) {
    case PadMode::zeros: return at::constant_pad_nd(x, amounts, 0);
    case PadMode::reflect:
      return dims == 2 ? at::reflection_pad2d(x, amounts) : at::reflection_pad1d(x, amounts);
    case PadMode::replicate:
      return dims == 2 ? at::replication_pad2d(x, amounts) : at::replication_pad1d(x, amounts);
    case PadMode::circular: return pad_circular(x, p, dims);
  }
  return x;
}

at::Tensor run_activation(const Layer& layer, const at::Tensor& x) {
  switch (layer.activation) {
    case Activation::relu: return at::relu(x);
    case Activation::leaky_relu: return at::leaky_relu(x, layer.parameter);
    case Activation::elu: return at::elu(x, layer.parameter);
    case Activation::gelu: return at::gelu(x, "none");
    case Activation::gelu_tanh: return at::gelu(x, "tanh");
    case Activation::silu: return at::silu(x);
    case Activation::tanh: return at::tanh(x);
    case Activation::sigmoid: return at::sigmoid(x);
    case Activation::softplus: return at::softplus(x, layer.parameter, layer.parameter2);
    case Activation::hardtanh: return at::hardtanh(x, layer.parameter, layer.parameter2);
  }
  return x;
}

}  // namespace

at::Tensor to_tensor(const ConstantTensor& constant) {
  return tensor_of(constant.values, constant.shape, at::TensorOptions().dtype(at::kDouble));
}

ConstantTensor to_constant(const at::Tensor& tensor) {
  return {Shape(tensor.sizes().begin(), tensor.sizes().end()), to_vector(tensor)};
}

std::vector<double> to_vector(const at::Tensor& tensor) {
  const at::Tensor t = tensor.detach().to(at::kCPU, at::kDouble).contiguous();
  return std::vector<double>(t.data_ptr<double>(), t.data_ptr<double>() + t.numel());
}

Layer avg_pool_layer(const PoolParams& pool, Index channels) {
  const bool padded = pool.padding[0] > 0 || pool.padding[1] > 0;
  if (padded && !pool.count_include_pad)
    throw std::invalid_argument("average pooling with count_include_pad=False and padding is "
                                "not one convolution");
  Layer layer;
  layer.kind = LayerKind::conv;
  layer.avg_pool = true;
  layer.pool = pool;
  ConvSpec& s = layer.spec;
  s.spatial_dims = pool.spatial_dims;
  s.weight_dim0 = channels;
  s.weight_dim1 = 1;
  s.groups = channels;
  s.kernel = pool.kernel;
  s.stride = pool.stride;
  s.padding = pool.padding;
  const double divisor =
      pool.divisor > 0 ? pool.divisor : static_cast<double>(pool.kernel[0] * pool.kernel[1]);
  layer.weight.assign(channels * pool.kernel[0] * pool.kernel[1], 1.0 / divisor);
  layer.type = pool.spatial_dims == 1 ? "AvgPool1d" : "AvgPool2d";
  return layer;
}

at::Tensor run_layer(const Layer& layer, const std::vector<at::Tensor>& inputs) {
  const at::Tensor& x = inputs.at(0);
  switch (layer.kind) {
    case LayerKind::conv: return run_conv(layer, x);
    case LayerKind::batch_norm:
      return x * channel_view(layer.scale, x) + (layer.bias.empty() ? at::zeros({}, x.options())
                                                                    : channel_view(layer.bias, x));
    case LayerKind::layer_norm: {
      const Shape& n = layer.normalized_shape;
      const at::Tensor w = layer.scale.empty() ? at::Tensor() : tensor_of(layer.scale, n, x.options());
      const at::Tensor b = layer.bias.empty() ? at::Tensor() : tensor_of(layer.bias, n, x.options());
      return at::layer_norm(x, sizes_of(n), w, b, layer.eps);
    }
    case LayerKind::activation: return run_activation(layer, x);
    case LayerKind::max_pool: {
      const PoolParams& p = layer.pool;
      if (p.spatial_dims == 1)
        return at::max_pool1d(x, {p.kernel[1]}, {p.stride[1]}, {p.padding[1]}, {p.dilation[1]},
                              p.ceil_mode);
      return at::max_pool2d(x, spatial(p.kernel, 2), spatial(p.stride, 2), spatial(p.padding, 2),
                            spatial(p.dilation, 2), p.ceil_mode);
    }
    case LayerKind::pad: return run_pad(layer, x);
    case LayerKind::reshape: {
      std::vector<int64_t> shape{x.size(0)};
      for (Index s : layer.output_shape) shape.push_back(s);
      return x.reshape(shape);
    }
    case LayerKind::add:
      return x * layer.coefficients[0] + inputs.at(1) * layer.coefficients[1];
    case LayerKind::affine: {
      at::Tensor y = x;
      if (!layer.affine_scale.values.empty()) y = y * to_tensor(layer.affine_scale).to(x.options());
      if (!layer.affine_offset.values.empty()) y = y + to_tensor(layer.affine_offset).to(x.options());
      return y;
    }
    case LayerKind::input:
    case LayerKind::unknown: break;
  }
  throw std::invalid_argument("layer '" + layer.name + "' (" + layer.type + ", " +
                              to_string(layer.kind) + ") cannot be run");
}

at::Tensor run_network(const Network& network, const at::Tensor& x,
                       std::vector<at::Tensor>* outputs) {
  std::vector<at::Tensor> values(network.layers.size());
  values[0] = x;
  for (std::size_t i = 1; i < network.layers.size(); ++i) {
    const Layer& layer = network.layers[i];
    std::vector<at::Tensor> inputs;
    for (int input : layer.inputs) inputs.push_back(values[input]);
    values[i] = run_layer(layer, inputs);
  }
  at::Tensor out = values[network.output];
  if (outputs) *outputs = std::move(values);
  return out;
}

NetworkBuilder::NetworkBuilder(const Shape& input_shape, at::Tensor example) {
  if (!example.defined()) {
    std::vector<int64_t> shape{2};
    shape.insert(shape.end(), input_shape.begin(), input_shape.end());
    at::Generator generator = at::detail::createCPUGenerator(20261122);
    example = at::randn(shape, generator, at::TensorOptions().dtype(at::kFloat));
  }
  Layer input;
  input.name = "input";
  input.type = "Input";
  input.kind = LayerKind::input;
  input.input_shape = input.output_shape = input_shape;
  network_.layers.push_back(input);
  values_.push_back(example);
}

int NetworkBuilder::add(Layer layer, const at::Tensor& unknown_output) {
  const std::string who = "layer '" + layer.name + "' (" + layer.type + ")";
  if (layer.inputs.empty()) throw std::invalid_argument(who + ": no input");
  std::vector<at::Tensor> inputs;
  for (int input : layer.inputs) inputs.push_back(values_.at(input));
  const at::Tensor& x = inputs[0];
  layer.input_shape = per_sample_shape(x);
  if (layer.kind == LayerKind::conv) {
    ConvSpec& s = layer.spec;
    if (layer.linear) {
      // y = Wx on the last dimension: a 1-tap conv on a one-pixel torus for the engine, whose
      // frequency analysis then has one block, the matrix itself. Applied to every row of a
      // larger input, the norm is the same (I ⊗ W).
      s = ConvSpec{};
      s.spatial_dims = 1;
      s.weight_dim0 = static_cast<Index>(layer.weight.size()) / std::max<Index>(1, x.size(-1));
      s.weight_dim1 = x.size(-1);
      s.padding_mode = PaddingMode::circular;
      if (s.weight_dim0 * s.weight_dim1 != static_cast<Index>(layer.weight.size()))
        throw std::invalid_argument(who + ": weight does not fit an input of " +
                                    std::to_string(x.size(-1)) + " features");
    } else {
      const int dims = s.spatial_dims;
      if (x.dim() != dims + 2)
        throw std::invalid_argument(who + ": expects a " + std::to_string(dims + 1) +
                                    "-D input (channels and " + std::to_string(dims) +
                                    " spatial), got " + shape_string(layer.input_shape));
      s.input = dims == 1 ? Extent{1, x.size(2)} : Extent{x.size(2), x.size(3)};
      if (in_channels(s) != x.size(1))
        throw std::invalid_argument(who + ": expects " + std::to_string(in_channels(s)) +
                                    " input channels, got " + shape_string(layer.input_shape));
      try {
        validate(s);
      } catch (const std::invalid_argument& e) {
        throw std::invalid_argument(who + ": " + e.what());
      }
    }
  }
  if (layer.kind == LayerKind::batch_norm &&
      (x.dim() < 2 || static_cast<Index>(layer.scale.size()) != x.size(1)))
    throw std::invalid_argument(who + ": " + std::to_string(layer.scale.size()) +
                                " channels, input is " + shape_string(layer.input_shape));
  at::Tensor out;
  if (layer.kind == LayerKind::unknown) {
    if (!unknown_output.defined()) throw std::invalid_argument(who + ": no output given");
    out = unknown_output;
  } else {
    try {
      out = run_layer(layer, inputs);
    } catch (const c10::Error& e) {
      throw std::invalid_argument(who + ": does not fit its input " +
                                  shape_string(layer.input_shape) + ": " +
                                  e.what_without_backtrace());
    }
  }
  const auto demote = [&](const at::Tensor& output, const std::string& why) {
    layer.kind = LayerKind::unknown;
    layer.note = why;
    out = output;
  };
  if (layer.kind == LayerKind::conv && layer.avg_pool && layer.pool.ceil_mode) {
    // ceil_mode may add a window hanging over the edge, with its own divisor: not one conv.
    const PoolParams& p = layer.pool;
    const at::Tensor pooled =
        p.spatial_dims == 1
            ? at::avg_pool1d(x, {p.kernel[1]}, {p.stride[1]}, {p.padding[1]}, true, p.count_include_pad)
            : at::avg_pool2d(x, spatial(p.kernel, 2), spatial(p.stride, 2), spatial(p.padding, 2),
                             true, p.count_include_pad,
                             p.divisor > 0 ? c10::optional<int64_t>(static_cast<int64_t>(p.divisor))
                                           : c10::nullopt);
    if (pooled.sizes() != out.sizes())
      demote(pooled, "average pooling whose ceil_mode adds a partial window: not one convolution");
  }
  // Elementwise layers and sums are bounded as maps of their input's shape; one that
  // broadcasts its input to a larger shape copies it, and is not.
  const bool elementwise = layer.kind == LayerKind::activation || layer.kind == LayerKind::affine ||
                           layer.kind == LayerKind::batch_norm || layer.kind == LayerKind::add;
  if (elementwise && (out.sizes() != x.sizes() ||
                      (layer.kind == LayerKind::add && inputs.at(1).sizes() != x.sizes())))
    demote(out, "broadcasting enlarges its input (" + shape_string(layer.input_shape) + " → " +
                    shape_string(per_sample_shape(out)) + "): not bounded");
  layer.output_shape = per_sample_shape(out);
  if (layer.kind == LayerKind::conv && !layer.linear) {
    const Extent expected = output_size(layer.spec);
    const Shape want = layer.spec.spatial_dims == 1
                           ? Shape{out_channels(layer.spec), expected[1]}
                           : Shape{out_channels(layer.spec), expected[0], expected[1]};
    if (layer.output_shape != want)
      throw std::invalid_argument(who + ": output " + shape_string(layer.output_shape) +
                                  " is not the convolution's " + shape_string(want));
  }
  network_.layers.push_back(std::move(layer));
  values_.push_back(out);
  return size() - 1;
}

Network NetworkBuilder::finish(int output) && {
  network_.output = output;
  validate(network_);
  return std::move(network_);
}

}  // namespace lipschitz::report
