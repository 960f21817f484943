#pragma once
/// \file conv_spec.hpp
/// The geometry of a convolution layer in PyTorch's terms, its validation and its shapes.

#include <array>
#include <cstdint>
#include <string>

namespace lipschitz {

using Index = std::ptrdiff_t;

/// Per-dimension sizes. A 1-D layer stores its sizes in element [1]; element [0] is then 1
/// (one row), so 1-D and 2-D layers share one code path.
using Extent = std::array<Index, 2>;

/// How a layer pads its input (PyTorch's `padding_mode`).
enum class PaddingMode {
  zeros,  ///< zero padding by `padding` on each side (PyTorch's default); `padding = 0` is 'valid'
  circular  ///< the layer on the torus of the input size: periodic input, output size = input /
            ///< stride
};

/// "zeros" or "circular".
std::string to_string(PaddingMode mode);
/// Parses "zeros" or "circular"; throws std::invalid_argument naming the value otherwise.
PaddingMode padding_mode_from_string(const std::string& text);

/// A convolution layer, as `torch.nn.Conv1d/Conv2d/ConvTranspose1d/ConvTranspose2d` describe it.
///
/// The weight is stored in PyTorch's layout, row-major:
/// - convolution: `(c_out, c_in / groups, k_1, k_2)`;
/// - transposed convolution: `(c_in, c_out / groups, k_1, k_2)`.
/// For 1-D layers `k_1 = 1`, and every other 2-element size has 1 (or 0 for padding) in [0].
///
/// Example, `nn.Conv2d(64, 128, 4, stride=2, padding=1)` on 32×32 inputs:
/// \code
///   ConvSpec s;
///   s.weight_dim0 = 128; s.weight_dim1 = 64; s.kernel = {4, 4};
///   s.input = {32, 32}; s.stride = {2, 2}; s.padding = {1, 1};
/// \endcode
struct ConvSpec {
  int spatial_dims = 2;   ///< 1 or 2
  Index weight_dim0 = 0;  ///< weight.shape[0]: c_out, or c_in for a transposed layer
  Index weight_dim1 = 0;  ///< weight.shape[1]: c_in/groups, or c_out/groups if transposed
  Extent kernel{1, 1};    ///< kernel taps per dimension, ≥ 1
  Extent input{1, 1};     ///< spatial input size per dimension, ≥ 1
  Extent stride{1, 1};    ///< ≥ 1; for circular padding it must divide the torus size
  Extent dilation{1, 1};  ///< ≥ 1; taps are `dilation` apart
  Extent padding{0, 0};   ///< ≥ 0; ignored for circular padding
  Index groups = 1;       ///< ≥ 1; must divide both channel counts
  PaddingMode padding_mode = PaddingMode::zeros;
  bool transposed = false;  ///< ConvTranspose: the adjoint of the convolution with this weight
};

/// Effective kernel extent `(k − 1)·d + 1` per dimension.
Extent effective_kernel(const ConvSpec& spec);
/// Input channels of the layer as the user sees it.
Index in_channels(const ConvSpec& spec);
/// Output channels of the layer as the user sees it.
Index out_channels(const ConvSpec& spec);
/// Spatial output size, following PyTorch's formulas (output_padding = 0 for transposed layers).
Extent output_size(const ConvSpec& spec);
/// Number of weight entries `weight_dim0 · weight_dim1 · k_1 · k_2`.
Index weight_size(const ConvSpec& spec);

/// Checks every constraint and throws std::invalid_argument with the constraint and the value
/// given, e.g. "groups must divide c_in: c_in = 6, groups = 4".
void validate(const ConvSpec& spec);

/// The layer reduced to a forward (not transposed) convolution with the same nonzero singular
/// values (ALGORITHMS.md §3): a transposed layer is the adjoint of the convolution with the same
/// weight, from the transposed layer's output size to its input size.
struct ForwardConv {
  Index out_channels = 0;  ///< rows of the operator per pixel (weight.shape[0])
  Index in_channels = 0;   ///< columns per pixel (weight.shape[1] · groups)
  Index groups = 1;
  Extent kernel{1, 1}, dilation{1, 1}, stride{1, 1}, padding{0, 0};
  Extent input{1, 1};     ///< spatial input size of the forward convolution
  Extent output{1, 1};    ///< spatial output size of the forward convolution
  bool circular = false;  ///< the operator is exactly circular (no zero padding)
};

/// The forward convolution equivalent to `spec` (which must be valid).
ForwardConv forward_conv(const ConvSpec& spec);

/// "1x3x3" style text for a (channels, spatial) shape of the given dimensionality.
std::string shape_string(Index channels, const Extent& spatial, int spatial_dims);

}  // namespace lipschitz
