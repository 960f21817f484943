#pragma once
/// \file lower_bound.hpp
/// An empirical lower bound on a network's Lipschitz constant (ALGORITHMS.md §6): the largest
/// local Lipschitz constant found, i.e. the input-gradient norm (scalar outputs) or the
/// Jacobian's spectral norm (vector outputs) at points of the input space.

#include <lipschitz/network.hpp>

#include <ATen/ATen.h>

#include <cstdint>
#include <functional>
#include <string>

namespace lipschitz::report {

/// Where to look, and how hard.
struct LowerBoundOptions {
  int random_inputs = 64;     ///< standard normal inputs
  int max_data = 256;         ///< data samples used (the first ones), and as many interpolates
  int ascent_starts = 8;      ///< the best points so far are sharpened by …
  int ascent_steps = 40;      ///< … this many steps of gradient ascent on ‖∇f(x)‖
  int power_iterations = 20;  ///< vector outputs: power iterations on JᵀJ per point
  int batch = 32;             ///< points per forward pass
  std::uint64_t seed = 0;
  /// Stop looking after this many seconds (0: no limit). The first batch of points is always
  /// evaluated; the search then stops between batches or ascent steps. Large models at large
  /// inputs (ResNet-18 at 224²) need this: each ascent step is a double backward pass.
  double time_budget = 0;
};

/// What was found.
struct LowerBoundResult {
  double value = 0;     ///< the confirmed local constant (a true lower bound on L)
  double gradient = 0;  ///< the autograd value at the same point, before confirmation
  std::string method;   ///< "input-gradient norm" or "Jacobian power iteration", + confirmation
  std::string where;   ///< e.g. "gradient ascent from data sample 17"
  int points = 0;      ///< points evaluated
  bool budget_reached = false;  ///< the time budget cut the search short
  double seconds = 0;
};

/// The model's forward pass on batch-first float32 tensors, differentiable with autograd; and
/// optionally the same model in double precision, used to confirm the best point by a secant.
struct Differentiable {
  std::function<at::Tensor(const at::Tensor&)> forward;
  std::function<at::Tensor(const at::Tensor&)> forward_double;  ///< may be empty
};

/// Searches data samples (`data`: batch-first, per-sample shape `input_shape`, or undefined),
/// interpolates between data and random points, random N(0, 1) inputs, then gradient ascent on
/// the local constant from the best points. `forward` must be differentiable (twice for the
/// ascent and for vector outputs; where it is not, the search keeps what it has).
///
/// The value reported is a secant ‖f(x + hv) − f(x)‖/h at the best point x found, along its
/// gradient (or top right singular vector) v, computed in double precision when the model can
/// run in double: a difference quotient of the model itself, so it holds even where autograd's
/// conventions at kinks (ReLU′(0) = 0) or float32 rounding would overstate the gradient.
/// Throws std::runtime_error when one sample's output depends on the others in its batch
/// (training-mode BatchNorm): local constants per sample then mean nothing.
LowerBoundResult empirical_lower_bound(const Differentiable& model, const Shape& input_shape,
                                       const at::Tensor& data, const LowerBoundOptions& options = {});

}  // namespace lipschitz::report
