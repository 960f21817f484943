#pragma once
/// \file network_bound.hpp
/// Per-layer norms and a certified upper bound on the Lipschitz constant of a whole network
/// (ALGORITHMS.md §6).

#include <lipschitz/conv_norm.hpp>
#include <lipschitz/network.hpp>

#include <string>
#include <vector>

namespace lipschitz {

/// Options for bound_network().
struct NetworkBoundOptions {
  ConvNormOptions conv;      ///< for each conv layer (tolerance, threads, dense limit, …)
  bool double_precision = true;  ///< compute the engine in double (else float)
};

/// What bound_network() found for one layer.
struct LayerBound {
  /// Linear layers (conv, Linear, AvgPool, BatchNorm, pad, affine): the operator norm of the
  /// layer alone; `exact` when the interval is within the tolerance. NaN for nonlinear layers.
  double spectral_norm = 0, lower_bound = 0, upper_bound = 0;
  bool exact = false;
  /// σ₁ of the weight reshaped as torch.nn.utils.spectral_norm does (conv and Linear only;
  /// NaN otherwise) — for contrast, not a bound.
  double reshaped_weight_norm = 0;
  /// The factor this layer contributes to the network bound: its norm's upper bound, an
  /// activation's Lipschitz constant, 1 for a layer folded into its neighbour, +∞ when none
  /// exists (LayerNorm, unknown layers).
  double lipschitz_factor = 1;
  /// Certified upper bound on the Lipschitz constant of input → this layer's output.
  double cumulative_bound = 1;
  std::string method;   ///< "circular-exact", "dense-svd", "torus-bound+lanczos", "closed-form", …
  std::string note;     ///< e.g. "BatchNorm folded into conv1: ‖conv1∘bn1‖ = …"
  double seconds = 0;
};

/// The whole network.
struct NetworkBound {
  std::vector<LayerBound> layers;  ///< one per Network::layers entry
  double upper_bound = 0;          ///< +∞ when not certified
  bool certified = false;
  std::vector<std::string> reasons;  ///< why not certified (one line per offending layer)
  double seconds = 0;
};

/// Bounds every layer with the engine and composes them:
/// - conv layers at their real input size with analyze_conv() (exact when circular or small,
///   else a certified interval); eval-mode BatchNorm directly after a conv is folded into its
///   weight (per output channel) before the norm is taken; a circular pad feeding a conv with
///   no padding of its own becomes that conv's circular padding;
/// - activations, max pooling, pads and affine layers by their closed-form constants;
/// - a residual sum a·f + b·g by |a|·L_f + |b|·L_g (so x + f(x) gives 1 + L_f);
/// - LayerNorm and unknown layers make the bound +∞ and add a reason.
/// Throws std::invalid_argument for an invalid network, ResourceError as analyze_conv().
NetworkBound bound_network(const Network& network, const NetworkBoundOptions& options = {});

}  // namespace lipschitz
