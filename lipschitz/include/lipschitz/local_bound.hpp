#pragma once
/// \file local_bound.hpp
/// Local Lipschitz bounds of an AffineChain over a box of inputs: interval bound propagation
/// fixes the slopes of the neurons that are stable on the box (Shi et al. 2022), and branch
/// and bound splits the box until certified upper and lower bounds meet (LipBaB, Bhowmick et
/// al. 2021): docs/math.md §8.4.

#include <lipschitz/affine_chain.hpp>

#include <cstdint>

namespace lipschitz {

/// Ranges of every hidden pre-activation z_k (k = 1 … m−1) over a box: lower[k−1] ≤ z_k ≤
/// upper[k−1] for every input in it, rounding included.
struct IntervalBounds {
  std::vector<Eigen::VectorXd> lower, upper;
};

/// Interval bound propagation: z ∈ W·[l, u] + b as W·centre + b ± |W|·radius, through each
/// activation's image of its range; widened by the rounding of each product (γ_n relative to
/// |W|·(|centre| + radius) + |b|). O(Σ n_k n_{k−1}).
IntervalBounds propagate_intervals(const AffineChain& chain, const Box& box);

/// Each neuron's slope range on its pre-activation range: a stable ReLU has slope 0 or 1, a
/// tanh on [l, u] slopes between its derivative's extremes there, and so on; activations
/// without a closed form keep their global range.
NeuronSlopes local_slopes(const AffineChain& chain, const IntervalBounds& ranges);

/// Options of local_lipschitz().
struct LocalOptions {
  double seconds = 60;       ///< stop splitting after this long (the bound is still certified)
  double tolerance = 0.01;   ///< stop once upper ≤ (1 + tolerance)·lower
  std::int64_t max_boxes = 2'000'000;  ///< boxes evaluated at most
  /// Piecewise-linear chains: a box with at most this many unstable neurons is bounded by the
  /// largest Jacobian over every slope pattern of them (2^n patterns), which is exact where the
  /// patterns are the box's regions; more, by the averaged bound with local slopes.
  int max_pattern_neurons = 10;
};

/// What local_lipschitz() found.
struct LocalBound {
  double upper_bound = 0;  ///< certified: ≥ sup over the box of ‖∇f‖
  double lower_bound = 0;  ///< a gradient norm at a point of the box (a true local constant)
  Eigen::VectorXd witness;  ///< that point
  bool converged = false;   ///< upper ≤ (1 + tolerance)·lower
  std::int64_t boxes = 0;   ///< boxes evaluated
  double seconds = 0;
  std::string status;       ///< how it stopped
};

/// The Lipschitz constant of the chain over `domain` (a convex set, so it is the supremum of
/// ‖∇f‖ over it): branch and bound over boxes. Each box gets the tighter of its certified
/// bounds (the averaged bound with its local slopes, or the pattern bound above) and a lower
/// bound from the Jacobian at its centre; the box with the largest upper bound is split in
/// half along its widest side, until the bounds meet within the tolerance or the budget ends.
/// The upper bound returned is the largest over the remaining boxes: sound at any stop.
/// Throws std::invalid_argument when the box does not match the input or is empty.
LocalBound local_lipschitz(const AffineChain& chain, const Box& domain, const LocalOptions& options = {});

}  // namespace lipschitz
