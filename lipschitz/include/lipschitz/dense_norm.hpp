#pragma once
/// \file dense_norm.hpp
/// A certified interval around σ₁ of a dense matrix: the composed norms N(k, j) of the
/// whole-network bounds (docs/math.md §8) and the per-neuron local bounds.

#include <Eigen/Core>

namespace lipschitz {

/// σ₁ of a matrix, certified: lower ≤ σ₁ ≤ upper.
struct DenseNorm {
  double lower = 0, upper = 0;
};

/// Computes σ̂₁ from the Gram matrix G = AᵀA or AAᵀ (the smaller), then certifies
/// λ_max(G_exact) ≤ μ by one Cholesky factorisation of μI − fl(G) (cholesky_bound.hpp) plus
/// the Gram product's rounding, |fl(G) − G| ≤ γ_n |A|ᵀ|A| ⇒ ‖ΔG‖₂ ≤ γ_n ‖A‖_F² (Higham §3.5).
/// The lower bound is ‖Av‖ for the top eigenvector v, rounded down. Within ~2e-9 relative of σ₁;
/// O(rows·cols·min(rows, cols)). A vector (one row or column) takes its 2-norm directly.
DenseNorm certified_spectral_norm(const Eigen::MatrixXd& a);

}  // namespace lipschitz
