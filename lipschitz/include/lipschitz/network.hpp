#pragma once
/// \file network.hpp
/// A network as the Lipschitz analysis sees it: a graph of layers on plain data, with every
/// weight and shape needed to bound it (network_bound.hpp) and to run it again (the report's
/// importers check the graph against the model this way).

#include <lipschitz/conv_spec.hpp>

#include <string>
#include <vector>

namespace lipschitz {

/// Per-sample tensor shape, without the batch dimension: (C, H, W), (C, N) or (F).
using Shape = std::vector<Index>;

/// "3x64x64" style text; "scalar" for an empty shape.
std::string shape_string(const Shape& shape);
/// Parses "3x64x64", "1x128" or "2"; throws std::invalid_argument naming the text otherwise.
Shape parse_shape(const std::string& text);
/// Number of elements (1 for an empty shape).
Index element_count(const Shape& shape);

/// What a layer does to its input, as far as the bound is concerned.
enum class LayerKind {
  input,       ///< the network input
  conv,        ///< Conv1d/2d, ConvTranspose1d/2d, Linear (a 1-tap conv on one pixel), AvgPool
               ///< (a depthwise conv with a constant kernel): norm from the engine
  batch_norm,  ///< eval-mode BatchNorm: y = scale[c]·x + shift[c] per channel
  layer_norm,  ///< LayerNorm: no global Lipschitz constant (ALGORITHMS.md §6)
  activation,  ///< elementwise nonlinearity, Lipschitz constant from activation_lipschitz()
  max_pool,    ///< max pooling: √(windows covering one pixel)
  pad,         ///< explicit padding of the spatial dimensions
  reshape,     ///< flatten, view, reshape, squeeze, eval-mode dropout, identity: an isometry
  add,         ///< coefficients[0]·a + coefficients[1]·b (residual connections)
  affine,      ///< x·scale + offset with constant tensors broadcast against x
  unknown      ///< anything else: listed by name; the network bound is then not certified
};
/// "input", "conv", … as written above.
std::string to_string(LayerKind kind);

/// Elementwise nonlinearities with a known global Lipschitz constant.
enum class Activation { relu, leaky_relu, elu, gelu, gelu_tanh, silu, tanh, sigmoid, softplus,
                        hardtanh };
/// PyTorch's class name: "ReLU", "LeakyReLU", … ("GELU" for both GELU variants).
std::string to_string(Activation activation);

/// Global Lipschitz constant of an activation with its parameter (LeakyReLU's slope, ELU's α,
/// softplus' β, ignored otherwise), ALGORITHMS.md §6: ReLU, tanh, softplus, hardtanh 1;
/// LeakyReLU max(1, |slope|); ELU max(1, α); sigmoid 1/4; GELU and SiLU the maximum of their
/// derivatives (computed, and rounded up).
double activation_lipschitz(Activation activation, double parameter);

/// A constant tensor (row-major) broadcast against a layer's input, as in PyTorch.
struct ConstantTensor {
  Shape shape;                ///< its own shape, batch dimension included when it has one
  std::vector<double> values;
};

/// Pooling geometry, PyTorch's MaxPool/AvgPool arguments (1-D layers use element [1]).
struct PoolParams {
  int spatial_dims = 2;
  Extent kernel{1, 1}, stride{1, 1}, padding{0, 0}, dilation{1, 1};
  bool ceil_mode = false;
  bool count_include_pad = true;  ///< AvgPool only
  double divisor = 0;             ///< AvgPool divisor_override; 0: the window size
};

/// How a pad layer fills the border.
enum class PadMode { zeros, reflect, replicate, circular };
/// "zeros", "reflect", "replicate", "circular".
std::string to_string(PadMode mode);

/// One layer. Which fields mean something depends on `kind`.
struct Layer {
  std::string name;         ///< the model's own name where it has one ("layer1.0.conv1")
  std::string type;         ///< what the user wrote: "Conv2d", "Linear", "BatchNorm2d", …
  LayerKind kind = LayerKind::unknown;
  std::vector<int> inputs;  ///< indices of earlier layers: none for the input, two for add,
                            ///< one or more for unknown, else one
  Shape input_shape;        ///< of inputs[0]
  Shape output_shape;

  /// conv: the geometry at this layer's input size and the weight in PyTorch's layout (a
  /// Linear layer is a 1×1 circular conv on one pixel, applied to the last dimension).
  ConvSpec spec;
  std::vector<double> weight;
  std::vector<double> bias;  ///< conv/Linear bias, BatchNorm shift, LayerNorm bias (may be empty)
  bool linear = false;       ///< conv that is a Linear layer (at::linear on the last dimension)
  bool avg_pool = false;     ///< conv that is average pooling (pool says how)

  /// batch_norm: per-channel scale γ/√(var+ε) (and `bias` the shift β − mean·scale).
  /// layer_norm: the elementwise gain γ (`bias` β), normalized over `normalized_shape`.
  std::vector<double> scale;
  Shape normalized_shape;
  double eps = 1e-5;

  Activation activation = Activation::relu;
  double parameter = 0;   ///< LeakyReLU slope, ELU α, softplus β
  double parameter2 = 0;  ///< softplus threshold; hardtanh uses [parameter, parameter2]

  PoolParams pool;  ///< max_pool, and avg_pool convs

  PadMode pad_mode = PadMode::zeros;
  /// pad: amounts before/after per spatial dimension, (h_before, h_after, w_before, w_after);
  /// a 1-D layer uses the w entries.
  std::array<Index, 4> pads{0, 0, 0, 0};

  std::array<double, 2> coefficients{1, 1};  ///< add
  ConstantTensor affine_scale, affine_offset;  ///< affine (an empty scale means 1)

  std::string note;  ///< why a layer is unknown, or what was folded into it
};

/// Layers in topological order; layer 0 is the input, `output` is the layer whose output is
/// the network's.
struct Network {
  std::vector<Layer> layers;
  int output = 0;
};

/// The network with every circular pad that feeds only an unpadded conv merged into that conv
/// as circular padding, the form PyTorch's `padding_mode='circular'` takes in a traced graph
/// (a pad, then a conv with padding 0). Merged when the pad is (k_eff − 1)/2 on every side and
/// the stride divides the size: the conv on the torus of the pad's input, whose norm the engine
/// computes exactly (ALGORITHMS.md §1–2). The merged layer keeps the conv's name and takes the
/// pad's input; later layers are renumbered.
Network merge_circular_padding(const Network& network);

/// Checks indices, order and the fields each kind needs (shapes, weight sizes); throws
/// std::invalid_argument naming the layer otherwise.
void validate(const Network& network);

}  // namespace lipschitz
