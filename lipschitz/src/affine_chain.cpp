#include <lipschitz/affine_chain.hpp>

#include <lipschitz/conv_operator.hpp>

#include "layer_maps.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

namespace lipschitz {
namespace {

using Matrix = Eigen::MatrixXd;
using Vector = Eigen::VectorXd;

std::string who(const Layer& layer) { return "layer '" + layer.name + "' (" + layer.type + ")"; }

// Values of a constant broadcast against a per-sample shape (PyTorch's rules, aligned from
// the right; a leading batch dimension of the constant must be 1).
std::vector<double> broadcast(const ConstantTensor& c, const Shape& shape, const Layer& layer) {
  const Index count = element_count(shape);
  if (c.values.empty()) return std::vector<double>(static_cast<std::size_t>(count), 1.0);
  Shape full = shape;
  full.insert(full.begin(), 1);  // the batch dimension
  if (c.shape.size() > full.size())
    throw std::invalid_argument(who(layer) + ": constant of rank " + std::to_string(c.shape.size()) +
                                " does not broadcast against " + shape_string(shape));
  const std::size_t offset = full.size() - c.shape.size();
  std::vector<double> out(static_cast<std::size_t>(count));
  for (Index e = 0; e < count; ++e) {
    Index rest = e, source = 0, stride = 1;
    // Walk dimensions from the last: the element's coordinate in each, and the constant's.
    for (std::size_t d = full.size(); d-- > 0;) {
      const Index coord = rest % full[d];
      rest /= full[d];
      if (d < offset) continue;
      const Index size = c.shape[d - offset];
      if (size != 1 && size != full[d])
        throw std::invalid_argument(who(layer) + ": constant of shape " + shape_string(c.shape) +
                                    " does not broadcast against " + shape_string(shape));
      source += (size == 1 ? 0 : coord) * stride;
      stride *= size;
    }
    out[static_cast<std::size_t>(e)] = c.values[static_cast<std::size_t>(source)];
  }
  return out;
}

// An affine stretch being composed: y = A x + c for the stretch's input x.
struct Stretch {
  Matrix a;
  Vector c;
  std::string names;
};

// Applies a linear map, given as a function on one vector, to every column of A and to c.
template <class Map>
void apply_map(Stretch& s, Index out_dim, Map&& map) {
  Matrix next(out_dim, s.a.cols());
  for (Index j = 0; j < s.a.cols(); ++j) {
    Vector column = s.a.col(j);
    Vector out(out_dim);
    map(column, out);
    next.col(j) = out;
  }
  Vector c_out(out_dim);
  map(s.c, c_out);
  s.a = std::move(next);
  s.c = std::move(c_out);
}

void apply_conv(Stretch& s, const Layer& layer) {
  const Index in_dim = element_count(layer.input_shape), out_dim = element_count(layer.output_shape);
  if (layer.linear) {
    const Index out = layer.spec.weight_dim0, in = layer.spec.weight_dim1;
    const Eigen::Map<const Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>> w(
        layer.weight.data(), out, in);
    const Index rows = in_dim / in;  // Linear acts on the last dimension of (…, in)
    apply_map(s, out_dim, [&](const Vector& x, Vector& y) {
      for (Index r = 0; r < rows; ++r) y.segment(r * out, out) = w * x.segment(r * in, in);
    });
  } else {
    const ForwardConv conv = forward_conv(layer.spec);
    SpatialConvOperator<double> op(layer.weight.data(), conv, 1);
    // Circular layers are never transposed (network_builder.cpp refuses them).
    const Extent wrap = detail::circular_wrap(layer.spec);
    apply_map(s, out_dim, [&](const Vector& x, Vector& y) {
      if (layer.spec.transposed) op.apply_adjoint(x.data(), y.data());
      else op.apply(detail::circular_shift(x, conv.input, wrap, false).data(), y.data());
    });
  }
  if (!layer.bias.empty()) {
    const Index channels = layer.linear ? layer.spec.weight_dim0 : out_channels(layer.spec);
    if (static_cast<Index>(layer.bias.size()) != channels)
      throw std::invalid_argument(who(layer) + ": bias has " + std::to_string(layer.bias.size()) +
                                  " entries, expected " + std::to_string(channels));
    // Linear: the bias repeats along the last dimension; conv: once per pixel of a channel.
    for (Index e = 0; e < out_dim; ++e)
      s.c(e) += layer.linear ? layer.bias[static_cast<std::size_t>(e % channels)]
                             : layer.bias[static_cast<std::size_t>(e / (out_dim / channels))];
  }
}

void apply_batch_norm(Stretch& s, const Layer& layer) {
  const Index count = element_count(layer.input_shape);
  const Index channels = layer.input_shape[0], per_channel = count / channels;
  for (Index e = 0; e < count; ++e) {
    const std::size_t ch = static_cast<std::size_t>(e / per_channel);
    s.a.row(e) *= layer.scale[ch];
    s.c(e) = s.c(e) * layer.scale[ch] + (layer.bias.empty() ? 0.0 : layer.bias[ch]);
  }
}

void apply_pad(Stretch& s, const Layer& layer) {
  apply_map(s, element_count(layer.output_shape),
            [&](const Vector& x, Vector& y) { detail::apply_pad(layer, x, y, false); });
}

void apply_affine(Stretch& s, const Layer& layer) {
  const std::vector<double> scale = broadcast(layer.affine_scale, layer.input_shape, layer);
  const std::vector<double> offset =
      layer.affine_offset.values.empty() ? std::vector<double>(scale.size(), 0.0)
                                         : broadcast(layer.affine_offset, layer.input_shape, layer);
  for (Index e = 0; e < s.a.rows(); ++e) {
    s.a.row(e) *= scale[static_cast<std::size_t>(e)];
    s.c(e) = s.c(e) * scale[static_cast<std::size_t>(e)] + offset[static_cast<std::size_t>(e)];
  }
}

// GELU, tanh-GELU and SiLU are not monotone: f'(x) + f'(−x) = 1 for all three, so their
// least slope is 1 − their greatest.
constexpr double kEluSlopeGuard = 1e-12;

}  // namespace

SlopeRange activation_slopes(Activation activation, double parameter) {
  switch (activation) {
    case Activation::relu: return {0, 1};
    case Activation::leaky_relu: return {std::min(parameter, 1.0), std::max(parameter, 1.0)};
    case Activation::tanh:
    case Activation::softplus:
    case Activation::hardtanh: return {0, 1};
    case Activation::sigmoid: return {0, 0.25};
    case Activation::elu:  // α e^x below 0 (between 0 and α), 1 above
      return {std::min(0.0, parameter), std::max(1.0, parameter) * (1 + kEluSlopeGuard)};
    case Activation::gelu:
    case Activation::gelu_tanh:
    case Activation::silu: {
      const double top = activation_lipschitz(activation, parameter);
      return {1 - top, top};
    }
  }
  return {-std::numeric_limits<double>::infinity(), std::numeric_limits<double>::infinity()};
}

bool piecewise_linear(Activation activation) {
  return activation == Activation::relu || activation == Activation::leaky_relu;
}

NeuronSlopes global_slopes(const AffineChain& chain) {
  NeuronSlopes s;
  for (std::size_t k = 0; k < chain.activations.size(); ++k) {
    const SlopeRange r = activation_slopes(chain.activations[k], chain.parameters[k]);
    const Index n = chain.weights[k].rows();
    s.lower.push_back(Vector::Constant(n, r.lower));
    s.upper.push_back(Vector::Constant(n, r.upper));
  }
  return s;
}

double activation_value(Activation activation, double a, double z) {
  switch (activation) {
    case Activation::relu: return z > 0 ? z : 0;
    case Activation::leaky_relu: return z > 0 ? z : a * z;
    case Activation::elu: return z > 0 ? z : a * std::expm1(z);
    case Activation::gelu: return 0.5 * z * std::erfc(-z / std::sqrt(2.0));
    case Activation::gelu_tanh:
      return 0.5 * z * (1 + std::tanh(std::sqrt(2 / M_PI) * (z + 0.044715 * z * z * z)));
    case Activation::silu: return z / (1 + std::exp(-z));
    case Activation::tanh: return std::tanh(z);
    case Activation::sigmoid: return 1 / (1 + std::exp(-z));
    case Activation::softplus: {
      const double beta = a > 0 ? a : 1;
      return beta * z > 20 ? z : std::log1p(std::exp(beta * z)) / beta;
    }
    case Activation::hardtanh: return std::clamp(z, -1.0, 1.0);  // the chain's only hardtanh
  }
  return z;
}

double activation_derivative(Activation activation, double a, double z) {
  switch (activation) {
    case Activation::relu: return z > 0 ? 1 : 0;
    case Activation::leaky_relu: return z > 0 ? 1 : a;
    case Activation::elu: return z > 0 ? 1 : a * std::exp(z);
    case Activation::gelu: {
      const double phi = std::exp(-0.5 * z * z) / std::sqrt(2 * M_PI);
      return 0.5 * std::erfc(-z / std::sqrt(2.0)) + z * phi;
    }
    case Activation::gelu_tanh: {
      const double k = std::sqrt(2 / M_PI), inner = k * (z + 0.044715 * z * z * z);
      const double t = std::tanh(inner);
      return 0.5 * (1 + t) + 0.5 * z * (1 - t * t) * k * (1 + 3 * 0.044715 * z * z);
    }
    case Activation::silu: {
      const double s = 1 / (1 + std::exp(-z));
      return s * (1 + z * (1 - s));
    }
    case Activation::tanh: {
      const double t = std::tanh(z);
      return 1 - t * t;
    }
    case Activation::sigmoid: {
      const double s = 1 / (1 + std::exp(-z));
      return s * (1 - s);
    }
    case Activation::softplus: {
      const double beta = a > 0 ? a : 1;
      return beta * z > 20 ? 1 : 1 / (1 + std::exp(-beta * z));
    }
    case Activation::hardtanh: return z > -1 && z < 1 ? 1 : 0;
  }
  return 1;
}

ChainConversion to_affine_chain(const Network& network, Index max_entries) {
  validate(network);
  ChainConversion result;
  const auto& layers = network.layers;
  // The path from the output back to the input: every layer on it has one input.
  std::vector<int> path;
  for (int i = network.output; i > 0; i = layers[i].inputs[0]) {
    const Layer& layer = layers[i];
    if (layer.inputs.size() != 1) {
      result.reason = who(layer) + ": the network is not a chain (it has " +
                      std::to_string(layer.inputs.size()) + " inputs)";
      return result;
    }
    path.push_back(i);
  }
  std::reverse(path.begin(), path.end());

  AffineChain& chain = result.chain;
  const Index input_dim = element_count(layers[0].output_shape);
  Stretch s{Matrix::Identity(input_dim, input_dim), Vector::Zero(input_dim), ""};
  const auto close_stretch = [&]() {
    chain.weights.push_back(std::move(s.a));
    chain.biases.push_back(std::move(s.c));
    chain.names.push_back(s.names.empty() ? std::string("identity") : s.names);
  };
  for (int i : path) {
    const Layer& layer = layers[i];
    if (layer.kind == LayerKind::activation) {
      // The chain's activations take one parameter: PyTorch's default threshold of softplus
      // (20) and hardtanh's default range [−1, 1] only.
      if ((layer.activation == Activation::softplus && layer.parameter2 != 20) ||
          (layer.activation == Activation::hardtanh &&
           (layer.parameter != -1 || layer.parameter2 != 1))) {
        result.reason = who(layer) + ": only softplus with threshold 20 and hardtanh on [-1, 1] "
                        "are in the chain form";
        return result;
      }
      close_stretch();
      chain.activations.push_back(layer.activation);
      chain.parameters.push_back(layer.parameter);
      const Index n = chain.weights.back().rows();
      s = Stretch{Matrix::Identity(n, n), Vector::Zero(n), ""};
      continue;
    }
    const Index out_dim = element_count(layer.output_shape);
    if (double(out_dim) * double(s.a.cols()) > double(max_entries)) {
      result.reason = who(layer) + ": its stretch of linear layers would be a dense " +
                      std::to_string(out_dim) + " x " + std::to_string(s.a.cols()) +
                      " matrix, above the limit of " + std::to_string(max_entries) + " entries";
      return result;
    }
    switch (layer.kind) {
      case LayerKind::conv: apply_conv(s, layer); break;
      case LayerKind::batch_norm: apply_batch_norm(s, layer); break;
      case LayerKind::pad: apply_pad(s, layer); break;
      case LayerKind::reshape: break;
      case LayerKind::affine: apply_affine(s, layer); break;
      default:
        result.reason = who(layer) + ": a " + to_string(layer.kind) +
                        " layer is neither affine nor an elementwise activation";
        return result;
    }
    s.names += (s.names.empty() ? "" : "+") + layer.name;
  }
  close_stretch();
  result.ok = true;
  return result;
}

Vector evaluate(const AffineChain& chain, const Vector& x) {
  Vector h = x;
  for (int k = 0; k < chain.depth(); ++k) {
    h = chain.weights[k] * h + chain.biases[k];
    if (k + 1 < chain.depth())
      for (Index p = 0; p < h.size(); ++p)
        h(p) = activation_value(chain.activations[k], chain.parameters[k], h(p));
  }
  return h;
}

Matrix jacobian(const AffineChain& chain, const Vector& x) {
  Vector h = x;
  Matrix j = Matrix::Identity(x.size(), x.size());
  for (int k = 0; k < chain.depth(); ++k) {
    h = chain.weights[k] * h + chain.biases[k];
    j = chain.weights[k] * j;
    if (k + 1 < chain.depth())
      for (Index p = 0; p < h.size(); ++p) {
        j.row(p) *= activation_derivative(chain.activations[k], chain.parameters[k], h(p));
        h(p) = activation_value(chain.activations[k], chain.parameters[k], h(p));
      }
  }
  return j;
}

}  // namespace lipschitz
