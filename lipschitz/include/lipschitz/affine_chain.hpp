#pragma once
/// \file affine_chain.hpp
/// A network as a chain of dense affine maps and elementwise activations,
///
///   f(x) = W_m σ_{m−1}(W_{m−1} ⋯ σ_1(W_1 x + b_1) ⋯ + b_{m−1}) + b_m,
///
/// the form the tighter whole-network bounds work on (docs/math.md §8, ALGORITHMS.md §6b):
/// averaged-activation compositions, LipSDP, local bounds and the exact planar enumeration.
/// Linear layers with no nonlinearity between them (conv–BatchNorm–conv, flatten–Linear) are
/// composed into one W_k, so their product's norm, not the product of their norms, enters.

#include <lipschitz/network.hpp>

#include <Eigen/Core>

#include <string>
#include <vector>

namespace lipschitz {

/// The chain f above. W_k is n_k × n_{k−1}; n_0 is the input dimension (the network's input
/// flattened row-major), n_m the output dimension.
struct AffineChain {
  std::vector<Eigen::MatrixXd> weights;  ///< W_1 … W_m (m ≥ 1)
  std::vector<Eigen::VectorXd> biases;   ///< b_1 … b_m, b_k of size n_k
  std::vector<Activation> activations;   ///< σ_1 … σ_{m−1}, applied elementwise
  std::vector<double> parameters;        ///< each activation's parameter (LeakyReLU's slope, …)
  std::vector<std::string> names;        ///< per affine map, the layers composed into it

  /// m, the number of affine maps.
  int depth() const { return static_cast<int>(weights.size()); }
  /// n_0.
  Index input_dim() const { return weights.empty() ? 0 : weights.front().cols(); }
  /// n_m.
  Index output_dim() const { return weights.empty() ? 0 : weights.back().rows(); }
};

/// Range [lower, upper] of an activation's derivative over the whole real line.
struct SlopeRange {
  double lower = 0, upper = 1;
};

/// The slopes of σ (Combettes & Pesquet 2020; Fazlyab et al. 2019's slope restriction):
/// ReLU [0, 1]; LeakyReLU(a) [min(a, 1), max(a, 1)]; tanh, softplus, hardtanh [0, 1]; sigmoid
/// [0, 1/4]; ELU(a) [min(0, a), max(1, a)]; GELU, tanh-GELU and SiLU [1 − L, L] with L their
/// activation_lipschitz() (f′(x) + f′(−x) = 1 for all three, so the least slope is 1 − L).
SlopeRange activation_slopes(Activation activation, double parameter);

/// ReLU and LeakyReLU: piecewise linear with one kink at 0, so f is piecewise affine.
bool piecewise_linear(Activation activation);

/// Per-neuron slope ranges of every activation layer: lower[k], upper[k] have n_{k+1} entries
/// (σ_{k+1}'s neurons). The global ones come from activation_slopes(); bound propagation over
/// a domain narrows them (local_bound.hpp).
struct NeuronSlopes {
  std::vector<Eigen::VectorXd> lower, upper;
};

/// Every neuron with its activation's global range.
NeuronSlopes global_slopes(const AffineChain& chain);

/// An axis-aligned box of inputs, lower ≤ x ≤ upper elementwise (n_0 entries each).
struct Box {
  Eigen::VectorXd lower, upper;
};

/// The network as a chain, or why it is none.
struct ChainConversion {
  bool ok = false;
  AffineChain chain;
  std::string reason;  ///< when !ok: the first layer that stops it, and why
};

/// Converts a network whose layers form one path of affine layers (conv, Linear, AvgPool,
/// BatchNorm, pads, reshapes, affine) and elementwise activations. Each stretch of affine
/// layers becomes one dense W_k, built column by column from the layers' own definitions, so
/// it fails where a stretch would hold more than `max_entries` entries (or where the network
/// has a residual sum, max pooling, LayerNorm or an unknown layer).
ChainConversion to_affine_chain(const Network& network, Index max_entries = Index(1) << 24);

/// f(x).
Eigen::VectorXd evaluate(const AffineChain& chain, const Eigen::VectorXd& x);

/// The Jacobian of f at x, n_m × n_0, with each activation's derivative at its pre-activation
/// (ReLU′(0) = 0, LeakyReLU′(0) = slope, as autograd takes them).
Eigen::MatrixXd jacobian(const AffineChain& chain, const Eigen::VectorXd& x);

/// Derivative of an activation at z.
double activation_derivative(Activation activation, double parameter, double z);
/// The activation at z.
double activation_value(Activation activation, double parameter, double z);

}  // namespace lipschitz
