#include <lipschitz/conv_spec.hpp>

#include <limits>
#include <sstream>
#include <stdexcept>

namespace lipschitz {
namespace {

[[noreturn]] void fail(const std::string& what) { throw std::invalid_argument(what); }

std::string extent_string(const Extent& e, int spatial_dims) {
  return spatial_dims == 1 ? std::to_string(e[1])
                           : std::to_string(e[0]) + "x" + std::to_string(e[1]);
}

// Sizes above this are refused before any arithmetic on them can overflow.
constexpr Index kMaxExtent = Index{1} << 24;

}  // namespace

std::string to_string(PaddingMode mode) {
  return mode == PaddingMode::zeros ? "zeros" : "circular";
}

PaddingMode padding_mode_from_string(const std::string& text) {
  if (text == "zeros") return PaddingMode::zeros;
  if (text == "circular") return PaddingMode::circular;
  fail("padding mode must be 'zeros' or 'circular', got '" + text + "'");
}

Extent effective_kernel(const ConvSpec& s) {
  return {(s.kernel[0] - 1) * s.dilation[0] + 1, (s.kernel[1] - 1) * s.dilation[1] + 1};
}

Index in_channels(const ConvSpec& s) {
  return s.transposed ? s.weight_dim0 : s.weight_dim1 * s.groups;
}

Index out_channels(const ConvSpec& s) {
  return s.transposed ? s.weight_dim1 * s.groups : s.weight_dim0;
}

Index weight_size(const ConvSpec& s) {
  return s.weight_dim0 * s.weight_dim1 * s.kernel[0] * s.kernel[1];
}

Extent output_size(const ConvSpec& s) {
  const Extent ke = effective_kernel(s);
  Extent out{};
  for (int a = 0; a < 2; ++a) {
    const Index n = s.input[a];
    if (s.padding_mode == PaddingMode::circular) {
      out[a] = s.transposed ? n * s.stride[a] : n / s.stride[a];
    } else if (s.transposed) {
      out[a] = (n - 1) * s.stride[a] - 2 * s.padding[a] + ke[a];
    } else {
      const Index span = n + 2 * s.padding[a] - ke[a];
      out[a] = span < 0 ? 0 : span / s.stride[a] + 1;
    }
  }
  return out;
}

void validate(const ConvSpec& s) {
  if (s.spatial_dims != 1 && s.spatial_dims != 2)
    fail("spatial_dims must be 1 or 2, got " + std::to_string(s.spatial_dims));
  const char* names[] = {"kernel size", "input size", "stride", "dilation"};
  const Extent* extents[] = {&s.kernel, &s.input, &s.stride, &s.dilation};
  for (int i = 0; i < 4; ++i) {
    for (int a = 0; a < 2; ++a) {
      const Index v = (*extents[i])[a];
      if (v < 1 || v > kMaxExtent)
        fail(std::string(names[i]) + " must be in [1, " + std::to_string(kMaxExtent) + "], got " +
             extent_string(*extents[i], s.spatial_dims));
    }
  }
  for (int a = 0; a < 2; ++a) {
    if (s.padding[a] < 0 || s.padding[a] > kMaxExtent)
      fail("padding must be in [0, " + std::to_string(kMaxExtent) + "], got " +
           extent_string(s.padding, s.spatial_dims));
  }
  if (s.spatial_dims == 1 && (s.kernel[0] != 1 || s.input[0] != 1 || s.stride[0] != 1 ||
                              s.dilation[0] != 1 || s.padding[0] != 0))
    fail("a 1-D layer keeps its sizes in the second element; the first must be 1 (0 for padding)");
  if (s.weight_dim0 < 1 || s.weight_dim1 < 1 || s.weight_dim0 > kMaxExtent ||
      s.weight_dim1 > kMaxExtent)
    fail("weight channel dimensions must be in [1, " + std::to_string(kMaxExtent) + "], got " +
         std::to_string(s.weight_dim0) + "x" + std::to_string(s.weight_dim1));
  if (s.groups < 1) fail("groups must be at least 1, got " + std::to_string(s.groups));
  if (s.weight_dim0 % s.groups != 0) {
    const char* what = s.transposed ? "c_in" : "c_out";
    fail(std::string("groups must divide ") + what + ": " + what + " = " +
         std::to_string(s.weight_dim0) + ", groups = " + std::to_string(s.groups));
  }
  const Extent ke = effective_kernel(s);
  for (int a = 0; a < 2; ++a) {
    if (s.padding_mode == PaddingMode::circular) {
      if (!s.transposed && s.input[a] % s.stride[a] != 0)
        fail("stride must divide the input size for circular padding: input = " +
             extent_string(s.input, s.spatial_dims) +
             ", stride = " + extent_string(s.stride, s.spatial_dims));
    } else if (!s.transposed && s.input[a] + 2 * s.padding[a] < ke[a]) {
      fail("the effective kernel (" + extent_string(ke, s.spatial_dims) +
           ") is larger than the padded input (input " + extent_string(s.input, s.spatial_dims) +
           ", padding " + extent_string(s.padding, s.spatial_dims) +
           "): the output would be empty");
    }
  }
  const Extent out = output_size(s);
  if (out[0] < 1 || out[1] < 1)
    fail("the output would be empty: input " + extent_string(s.input, s.spatial_dims) +
         ", padding " + extent_string(s.padding, s.spatial_dims) + " give output " +
         extent_string(out, s.spatial_dims));
  if (out[0] > kMaxExtent || out[1] > kMaxExtent)
    fail("the output size " + extent_string(out, s.spatial_dims) + " is too large");
}

ForwardConv forward_conv(const ConvSpec& s) {
  ForwardConv f;
  f.out_channels = s.weight_dim0;
  f.in_channels = s.weight_dim1 * s.groups;
  f.groups = s.groups;
  f.kernel = s.kernel;
  f.dilation = s.dilation;
  f.stride = s.stride;
  f.circular = s.padding_mode == PaddingMode::circular;
  f.padding = f.circular ? Extent{0, 0} : s.padding;
  const Extent out = output_size(s);
  // ALGORITHMS.md §3: the transposed layer is the adjoint of the convolution from its output
  // size back to its input size, with the same weight, stride, dilation and padding.
  f.input = s.transposed ? out : s.input;
  f.output = s.transposed ? s.input : out;
  return f;
}

std::string shape_string(Index channels, const Extent& spatial, int spatial_dims) {
  return std::to_string(channels) + "x" + extent_string(spatial, spatial_dims);
}

}  // namespace lipschitz
