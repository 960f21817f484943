#pragma once
// Private to report/: what the importers share.

#include <lipschitz/conv_spec.hpp>

#include <ATen/ATen.h>

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

namespace lipschitz::report::detail {

/// A layer's description agrees with the model when its output is within this much of the
/// model's, relative to the output's largest entry (float32 operations computed two ways).
constexpr double kAgreement = 1e-4;

/// The line of an error message that says what went wrong. PyTorch's messages start with a
/// newline and go on with a graph dump; the TorchScript interpreter's end with the Python-side
/// "RuntimeError: …" after a traceback.
inline std::string error_summary(const std::string& text) {
  const std::size_t error = text.rfind("Error: ");
  if (error != std::string::npos) {
    const std::size_t start = error + 7;
    return text.substr(start, text.find('\n', start) - start);
  }
  const std::size_t start = text.find_first_not_of("\n ");
  if (start == std::string::npos) return text;
  return text.substr(start, text.find('\n', start) - start);
}

inline double max_difference(const at::Tensor& a, const at::Tensor& b) {
  if (a.sizes() != b.sizes()) return std::numeric_limits<double>::infinity();
  if (a.numel() == 0) return 0;
  return (a.detach().to(at::kDouble) - b.detach().to(at::kDouble)).abs().max().item<double>();
}

inline bool agree(const at::Tensor& ours, const at::Tensor& theirs) {
  const double scale =
      theirs.numel() ? theirs.detach().abs().max().to(at::kDouble).item<double>() : 0.0;
  return max_difference(ours, theirs) <= kAgreement * (1 + scale);
}

/// Per-dimension sizes from PyTorch/ONNX lists of `dims` spatial entries (a 2-D layer may give
/// one value for both). A 1-D layer keeps its size in element [1] and `fill` (1 for kernel,
/// stride, dilation; 0 for padding) in element [0], as ConvSpec wants.
inline Extent extent_of(const std::vector<std::int64_t>& values, std::size_t dims, Index fill) {
  if (values.empty()) return {fill, fill};
  if (dims == 1) return {fill, values[0]};
  return values.size() == 1 ? Extent{values[0], values[0]} : Extent{values[0], values[1]};
}

}  // namespace lipschitz::report::detail
