#pragma once
/// \file network_builder.hpp
/// Runs a lipschitz::Network on ATen tensors, and builds one layer at a time from a model.
///
/// The importers (TorchScript, ONNX, this project's checkpoints) describe each layer they read
/// as a lipschitz::Layer and append it here; the builder runs it on an example input, so every
/// layer's shapes come from an actual forward pass, and the importer can compare the result with
/// the model's own output for that layer. A misread layer is then an error, not a wrong bound.

#include <lipschitz/network.hpp>

#include <ATen/ATen.h>

#include <vector>

namespace lipschitz::report {

/// The tensor of a constant (double precision).
at::Tensor to_tensor(const ConstantTensor& constant);
/// A constant holding `tensor`'s values (any dtype, any device) and its full shape.
ConstantTensor to_constant(const at::Tensor& tensor);
/// The values of `tensor`, row-major, as doubles.
std::vector<double> to_vector(const at::Tensor& tensor);

/// `layer` applied to its inputs' values (batch-first tensors, any floating dtype: computed in
/// the dtype of inputs[0]). Differentiable with autograd. Throws std::invalid_argument for a
/// kind it cannot run (input, unknown).
at::Tensor run_layer(const Layer& layer, const std::vector<at::Tensor>& inputs);

/// The network applied to `x` (batch-first); with `outputs`, every layer's output too.
at::Tensor run_network(const Network& network, const at::Tensor& x,
                       std::vector<at::Tensor>* outputs = nullptr);

/// Average pooling as the depthwise convolution it is (ALGORITHMS.md §6): weight (C, 1, k…)
/// of 1/divisor, groups = C. Throws std::invalid_argument for the variants that are not one
/// convolution: count_include_pad = false with padding.
Layer avg_pool_layer(const PoolParams& pool, Index channels);

/// Appends layers, completing their shapes by running them on an example batch.
class NetworkBuilder {
 public:
  /// Starts a network whose input has this per-sample shape; `example` (batch-first, that shape)
  /// is the batch every layer runs on, or a seeded standard normal batch of 2 when undefined.
  explicit NetworkBuilder(const Shape& input_shape, at::Tensor example = {});

  /// Appends `layer` (kind, inputs and its own fields set): fills input_shape, output_shape and,
  /// for a conv, spec.input (and the whole spec of a Linear layer from its weight), runs it and
  /// returns its index. An unknown layer needs `unknown_output`: the model's own output for it.
  /// Throws std::invalid_argument naming the layer when it does not fit its input.
  int add(Layer layer, const at::Tensor& unknown_output = {});

  /// The example batch's value at the output of layer `index` (0: the input).
  const at::Tensor& value(int index) const { return values_.at(index); }
  /// Number of layers so far (the input included).
  int size() const { return static_cast<int>(network_.layers.size()); }
  const Network& network() const { return network_; }

  /// The finished network with `output` as its output layer.
  Network finish(int output) &&;

 private:
  Network network_;
  std::vector<at::Tensor> values_;
};

}  // namespace lipschitz::report
