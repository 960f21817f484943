#include <lipschitz/network.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

namespace lipschitz {

std::string shape_string(const Shape& shape) {
  if (shape.empty()) return "scalar";
  std::string text;
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (i > 0) text += 'x';
    text += std::to_string(shape[i]);
  }
  return text;
}

Shape parse_shape(const std::string& text) {
  Shape shape;
  std::size_t start = 0;
  while (start <= text.size()) {
    const std::size_t end = std::min(text.find('x', start), text.size());
    const std::string part = text.substr(start, end - start);
    const bool digits = !part.empty() && part.size() <= 9 &&
                        std::all_of(part.begin(), part.end(), [](char c) { return c >= '0' && c <= '9'; });
    if (!digits || std::stol(part) <= 0)
      throw std::invalid_argument("expected a shape like 3x64x64, 4x128 or 16 (positive sizes), got '" +
                                  text + "'");
    shape.push_back(std::stol(part));
    start = end + 1;
  }
  if (shape.size() > 4) throw std::invalid_argument("a shape has at most 4 sizes, got '" + text + "'");
  return shape;
}

Index element_count(const Shape& shape) {
  Index count = 1;
  for (Index s : shape) count *= s;
  return count;
}

std::string to_string(LayerKind kind) {
  switch (kind) {
    case LayerKind::input: return "input";
    case LayerKind::conv: return "conv";
    case LayerKind::batch_norm: return "batch_norm";
    case LayerKind::layer_norm: return "layer_norm";
    case LayerKind::activation: return "activation";
    case LayerKind::max_pool: return "max_pool";
    case LayerKind::pad: return "pad";
    case LayerKind::reshape: return "reshape";
    case LayerKind::add: return "add";
    case LayerKind::affine: return "affine";
    case LayerKind::unknown: return "unknown";
  }
  return "unknown";
}

std::string to_string(Activation activation) {
  switch (activation) {
    case Activation::relu: return "ReLU";
    case Activation::leaky_relu: return "LeakyReLU";
    case Activation::elu: return "ELU";
    case Activation::gelu:
    case Activation::gelu_tanh: return "GELU";
    case Activation::silu: return "SiLU";
    case Activation::tanh: return "Tanh";
    case Activation::sigmoid: return "Sigmoid";
    case Activation::softplus: return "Softplus";
    case Activation::hardtanh: return "Hardtanh";
  }
  return "?";
}

std::string to_string(PadMode mode) {
  switch (mode) {
    case PadMode::zeros: return "zeros";
    case PadMode::reflect: return "reflect";
    case PadMode::replicate: return "replicate";
    case PadMode::circular: return "circular";
  }
  return "?";
}

namespace {

// A circular pad feeding a conv with no padding is that conv with circular padding when the pad
// is (k_eff − 1)/2 on every side and the stride divides the size: the same operator up to a
// cyclic shift of the input (PyTorch starts the taps p before the output pixel), which keeps
// every singular value.
bool fuses_as_circular(const Layer& pad, const Layer& conv) {
  if (pad.kind != LayerKind::pad || pad.pad_mode != PadMode::circular) return false;
  if (conv.kind != LayerKind::conv || conv.linear || conv.avg_pool || conv.spec.transposed ||
      conv.spec.padding_mode != PaddingMode::zeros)
    return false;
  const ConvSpec& s = conv.spec;
  const Extent k = effective_kernel(s);
  for (int d = 2 - s.spatial_dims; d < 2; ++d) {
    const Index before = pad.pads[2 * d], after = pad.pads[2 * d + 1];
    const Index n = s.input[d] - before - after;
    if (s.padding[d] != 0 || before != after || 2 * before != k[d] - 1 || n % s.stride[d] != 0 ||
        before > n)
      return false;
  }
  return true;
}


}  // namespace

double activation_lipschitz(Activation activation, double parameter) {
  switch (activation) {
    case Activation::relu:
    case Activation::tanh:
    case Activation::softplus:  // derivative σ(βx) ∈ (0, 1), and 1 above the threshold
    case Activation::hardtanh: return 1;
    case Activation::leaky_relu: return std::max(1.0, std::abs(parameter));
    case Activation::elu: return std::max(1.0, std::abs(parameter));  // α e^x below 0
    case Activation::sigmoid: return 0.25;
    case Activation::gelu: {
      // GELU(x) = x Φ(x): f' = Φ + xφ, f'' = φ(2 − x²), so the maximum is at x = √2:
      // Φ(√2) + √2 φ(√2) ≈ 1.12890 (ALGORITHMS.md §6); rounded up by one part in 10¹².
      const double x = std::sqrt(2.0);
      const double phi = std::exp(-1.0) / std::sqrt(2 * M_PI);
      const double cdf = 0.5 * std::erfc(-x / std::sqrt(2.0));
      return (cdf + x * phi) * (1 + 1e-12);
    }
    // The maxima of f' for these two have no closed form. Found by golden-section search
    // (f' is unimodal on x ≥ 0 and below 1 for x < 0) and rounded up in the 6th digit:
    // tanh-GELU 1.1289930687 at x ≈ 1.4185; SiLU = x σ(x), f' = σ(1 + x(1 − σ)),
    // 1.0998393201 at x ≈ 2.3994. tests/lipschitz/test_network_bound.cpp checks both.
    case Activation::gelu_tanh: return 1.128994;
    case Activation::silu: return 1.09984;
  }
  return std::numeric_limits<double>::infinity();
}

Network merge_circular_padding(const Network& network) {
  const auto& layers = network.layers;
  const int n = static_cast<int>(layers.size());
  std::vector<std::vector<int>> consumers(n);
  for (int i = 1; i < n; ++i)
    for (int input : layers[i].inputs) consumers[input].push_back(i);
  Network merged;
  std::vector<int> index(n, -1);
  std::vector<bool> absorbed(n, false);
  for (int i = 0; i < n; ++i) {
    if (absorbed[i]) continue;
    Layer layer = layers[i];
    if (consumers[i].size() == 1 && i != network.output &&
        fuses_as_circular(layer, layers[consumers[i][0]]) ) {
      absorbed[consumers[i][0]] = true;  // emitted here, in the pad's place
      const Layer& pad = layer;
      Layer conv = layers[consumers[i][0]];
      for (int d = 2 - conv.spec.spatial_dims; d < 2; ++d) conv.spec.input[d] -= 2 * pad.pads[2 * d];
      conv.spec.padding_mode = PaddingMode::circular;
      conv.inputs = pad.inputs;
      conv.input_shape = pad.input_shape;
      conv.note += (conv.note.empty() ? "" : "; ") + std::string("circular padding (its pad merged in)");
      index[consumers[i][0]] = index[i] = static_cast<int>(merged.layers.size());
      layer = std::move(conv);
    } else {
      index[i] = static_cast<int>(merged.layers.size());
    }
    for (int& input : layer.inputs) input = index[input];
    merged.layers.push_back(std::move(layer));
  }
  merged.output = index[network.output];
  return merged;
}

void validate(const Network& network) {
  const auto& layers = network.layers;
  if (layers.empty() || layers[0].kind != LayerKind::input)
    throw std::invalid_argument("network: layer 0 must be the input");
  if (network.output < 0 || network.output >= static_cast<int>(layers.size()))
    throw std::invalid_argument("network: output index " + std::to_string(network.output) +
                                " out of range");
  for (std::size_t i = 1; i < layers.size(); ++i) {
    const Layer& layer = layers[i];
    const std::string where = "network layer " + std::to_string(i) + " (" + layer.name + "): ";
    if (layer.kind == LayerKind::input) throw std::invalid_argument(where + "a second input");
    // Unknown layers keep every network input they read (they bound nothing anyway).
    const std::size_t arity = layer.kind == LayerKind::add ? 2 : 1;
    if (layer.kind == LayerKind::unknown ? layer.inputs.empty() : layer.inputs.size() != arity)
      throw std::invalid_argument(where + "expected " + std::to_string(arity) + " input(s), got " +
                                  std::to_string(layer.inputs.size()));
    for (int input : layer.inputs)
      if (input < 0 || input >= static_cast<int>(i))
        throw std::invalid_argument(where + "input " + std::to_string(input) +
                                    " is not an earlier layer");
    if (layer.kind == LayerKind::conv) {
      validate(layer.spec);
      if (static_cast<Index>(layer.weight.size()) != weight_size(layer.spec))
        throw std::invalid_argument(where + "weight has " + std::to_string(layer.weight.size()) +
                                    " entries, the geometry needs " +
                                    std::to_string(weight_size(layer.spec)));
    }
    if (layer.kind == LayerKind::batch_norm &&
        (layer.input_shape.empty() ||
         static_cast<Index>(layer.scale.size()) != layer.input_shape[0]))
      throw std::invalid_argument(where + "BatchNorm needs one scale per channel");
  }
}

}  // namespace lipschitz
