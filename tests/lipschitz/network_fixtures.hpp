#pragma once
// Test helper: small lipschitz::Network layers built by hand (shapes filled in), for the
// whole-network bound tests.

#include <lipschitz/network.hpp>

#include "dense_reference.hpp"

#include <string>
#include <vector>

namespace lipschitz::test {

inline Layer input_layer(const Shape& shape) {
  Layer l;
  l.name = "input";
  l.kind = LayerKind::input;
  l.input_shape = l.output_shape = shape;
  return l;
}

inline Layer conv_layer(const ConvSpec& spec, std::vector<double> weight, int input) {
  Layer l;
  l.name = "conv" + std::to_string(input);
  l.type = "Conv2d";
  l.kind = LayerKind::conv;
  l.spec = spec;
  l.weight = std::move(weight);
  l.inputs = {input};
  l.input_shape = {in_channels(spec), spec.input[0], spec.input[1]};
  const Extent out = output_size(spec);
  l.output_shape = {out_channels(spec), out[0], out[1]};
  return l;
}

inline Layer simple_layer(LayerKind kind, int input, const Shape& shape) {
  Layer l;
  l.name = to_string(kind) + std::to_string(input);
  l.type = to_string(kind);
  l.kind = kind;
  l.inputs = {input};
  l.input_shape = l.output_shape = shape;
  return l;
}

inline ConvSpec conv2d(Index c_out, Index c_in, Index k, Index n, Index stride, Index padding) {
  ConvSpec s = square_conv2d(c_out, c_in, k, n);
  s.stride = {stride, stride};
  s.padding = {padding, padding};
  return s;
}

/// A Linear layer (out × in weight, row-major) on vectors.
inline Layer linear_layer(Index out, Index in, std::vector<double> weight, std::vector<double> bias,
                          int input) {
  Layer l;
  l.name = "fc" + std::to_string(input);
  l.type = "Linear";
  l.kind = LayerKind::conv;
  l.linear = true;
  l.spec.spatial_dims = 1;
  l.spec.weight_dim0 = out;
  l.spec.weight_dim1 = in;
  l.spec.padding_mode = PaddingMode::circular;
  l.weight = std::move(weight);
  l.bias = std::move(bias);
  l.inputs = {input};
  l.input_shape = {in};
  l.output_shape = {out};
  return l;
}

/// An activation layer on `shape`.
inline Layer activation_layer(Activation activation, double parameter, int input, const Shape& shape) {
  Layer l = simple_layer(LayerKind::activation, input, shape);
  l.type = to_string(activation);
  l.activation = activation;
  l.parameter = parameter;
  return l;
}

}  // namespace lipschitz::test
