#pragma once
/// \file model_import.hpp
/// Reads a model file into a lipschitz::Network: TorchScript (`torch.jit.save`), ONNX, and
/// this project's critic checkpoints.

#include <lipschitz/network.hpp>

#include <ATen/ATen.h>

#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace lipschitz::report {

/// A model file that cannot be read, or whose shapes do not fit: the message names the file
/// and what was wrong.
class ImportError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// A model, read.
struct ImportedModel {
  std::string format;  ///< "torchscript", "onnx" or "checkpoint"
  Network network;     ///< every layer, shapes at `input_shape`, weights in double
  Shape input_shape;   ///< per sample
  std::string input_shape_source;  ///< "--input-shape", "model file", "inferred: …"
  /// The model's own forward pass on a batch (batch-first, float32 on the CPU), differentiable
  /// with autograd. For ONNX it is run_network() on `network`, the only implementation we have.
  std::function<at::Tensor(const at::Tensor&)> forward;
  /// The same model in double precision (a copy of it), for the lower bound's confirmation.
  std::function<at::Tensor(const at::Tensor&)> forward_double;
  std::vector<std::string> warnings;  ///< things a user should know (shown in the report)
  /// Samples of the data the model was trained on, where the file says which and the data
  /// can be drawn without files (a checkpoint of a toy run: 2,500 seeded samples); undefined
  /// otherwise. `--domain data` uses them when no --data is given.
  at::Tensor training_data;
  std::string training_data_name;  ///< e.g. "8gaussians"
};

/// Detects the format from the file's content (zip: TorchScript or checkpoint; else ONNX) and
/// reads it. `input_shape` overrides the shape recorded in (or inferred from) the model.
/// Throws ImportError.
ImportedModel import_model(const std::string& path, const std::optional<Shape>& input_shape);

/// TorchScript module with a `forward` method. Every tensor operation that depends on the
/// input becomes a layer; everything else (weight computations such as spectral_norm's, shape
/// arithmetic) is evaluated to constants. Each layer is checked against the module's own
/// intermediate output.
ImportedModel import_torchscript(const std::string& path, const std::optional<Shape>& input_shape);

/// ONNX model (opsets 9–17 as torch.onnx.export writes them).
ImportedModel import_onnx(const std::string& path, const std::optional<Shape>& input_shape);

/// A `lipschitz train` checkpoint: its critic.
ImportedModel import_checkpoint(const std::string& path, const std::optional<Shape>& input_shape);

}  // namespace lipschitz::report
