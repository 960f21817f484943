#pragma once
/// \file averaged_bound.hpp
/// The averaged-activation bound of Combettes & Pesquet (2020) on an AffineChain, with
/// per-neuron slopes (global, or narrowed on a domain by bound propagation): docs/math.md §8.2.

#include <lipschitz/affine_chain.hpp>

namespace lipschitz {

/// A certified upper bound on the Lipschitz constant (L2 → L2) of the chain on the set where
/// every neuron's slope lies in its range:
///
///   a_1 = ‖W_1‖,  a_k = ‖W_k C_{k−1} W_{k−1} ⋯ C_1 W_1‖ + Σ_{j<k} ‖W_k C_{k−1} ⋯ W_{j+1} B_j‖ a_j,
///   Lip(f) ≤ a_m,
///
/// with C_j = diag((α+β)/2) and B_j = diag((β−α)/2) over σ_j's neurons: each activation is
/// σ = C·id + B·Q with Q elementwise of slope in [−1, 1], hence nonexpansive; linear maps
/// distribute over the sum, Q does not, so the expansion stops at each Q (Combettes & Pesquet
/// 2020, Thm 3.2/Prop. 3.6; for ReLU, C = B = I/2 gives their θ_m/2^{m−1}). With every slope
/// fixed (B = 0) it is ‖W_m C ⋯ C W_1‖, the exact Jacobian norm. Each composed norm is
/// certified (dense_norm.hpp) including the rounding of the products that form it.
/// O(m²) products and norms of n × n matrices. Non-finite weights give +∞.
double averaged_activation_bound(const AffineChain& chain, const NeuronSlopes& slopes);

/// The same recursion where activation layer j (between maps j and j+1) has one slope range
/// [α_j, β_j] for all its neurons, so that C_j and B_j are scalars c_j, b_j and
/// `norm[k][j]` (0 ≤ j < k ≤ m) bounds ‖W_k ⋯ W_{j+1}‖, the plain composition (path_bound.hpp
/// forms them on conv layers' operators). c_j = (α_j+β_j)/2, b_j = (β_j−α_j)/2. (Other splits
/// c_j ∈ [α_j, β_j], b_j = max(β_j − c_j, c_j − α_j) are sound too; a grid search over them found
/// nothing below the midpoint on the critics of bench/network_bounds.py.)
double averaged_scalar_bound(const std::vector<std::vector<double>>& norm,
                             const std::vector<SlopeRange>& slopes);

/// A certified upper bound on ‖W_m D_{m−1} W_{m−1} ⋯ D_1 W_1‖ for diagonal D_j = diag(d[j])
/// (one entry per neuron of σ_{j+1}): the Jacobian's norm on the activation pattern whose
/// slopes are d. Formed from the output side, so a scalar output costs one row per product.
double pattern_norm_bound(const AffineChain& chain, const std::vector<Eigen::VectorXd>& d);

/// Π_k ‖W_k‖ · Π_j max_p max(|α_p|, |β_p|): the product bound on the same chain, certified.
double chain_product_bound(const AffineChain& chain, const NeuronSlopes& slopes);

}  // namespace lipschitz
