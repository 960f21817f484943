#pragma once
/// \file lmi_certificate.hpp
/// The LipSDP-Neuron matrix inequality of an AffineChain and its check in floating point,
/// independent of any solver (ALGORITHMS.md §6b): whatever produced ρ and the multipliers (an
/// SDP solver, a closed form), a printed bound √ρ is sound because certify_lipsdp() proved
/// M(ρ, T) ⪯ 0 here.
///
/// **The inequality** (Fazlyab et al., "Efficient and Accurate Estimation of Lipschitz
/// Constants for Deep Neural Networks", NeurIPS 2019, Thm 2 in the neuron form: diagonal
/// multipliers; the "network" coupling is not valid in general, Pauli et al. 2021). For
/// f = W_m σ_{m−1}(⋯σ_1(W_1 x + b_1)⋯) + b_m (biases play no part) whose neuron p of σ_i has
/// secant slopes in [α_{i,p}, β_{i,p}] (NeuronSlopes::lower[i−1], upper[i−1]), take two inputs
/// and their differences x_0 (input), v_i = W_i x_{i−1} (pre-activations), x_i (post-activations
/// of hidden layer i). The slope restriction gives (x_{i,p} − α v_{i,p})(β v_{i,p} − x_{i,p}) ≥ 0,
/// so with multipliers t_{i,p} ≥ 0 and z = (x_0, x_1, …, x_{m−1}),
///
///   Q(z) = ‖W_m x_{m−1}‖² − ρ‖x_0‖² + Σ_i Σ_p t_{i,p} (x_{i,p} − α v_{i,p})(β v_{i,p} − x_{i,p})
///        = zᵀ M(ρ, T) z ≤ 0 for all z   ⟹   ‖f(x) − f(x′)‖² ≤ ρ‖x − x′‖²,   Lip₂(f) ≤ √ρ.
///
/// With T_i = diag(t_i), A_i = diag(t_i ∘ α_i ∘ β_i), C_i = diag(t_i ∘ (α_i + β_i)/2), M is
/// symmetric block-tridiagonal with blocks of sizes n_0, n_1, …, n_{m−1} (dimension
/// lipsdp_dimension() = n_0 + n_1 + ⋯ + n_{m−1}):
///
///   M_00        = −ρI − W_1ᵀ A_1 W_1
///   M_ii        = −T_i − W_{i+1}ᵀ A_{i+1} W_{i+1}      (1 ≤ i ≤ m−2)
///   M_{m−1,m−1} = −T_{m−1} + W_mᵀ W_m                  (m ≥ 2; for m = 1, M = W_1ᵀW_1 − ρI)
///   M_{i,i−1}   = C_i W_i,  M_{i−1,i} = W_iᵀ C_i       (1 ≤ i ≤ m−1), all other blocks 0.
///
/// M is affine in (ρ, T) and decreasing in ρ, so once M(ρ, T) ⪯ 0 every larger ρ is certified.
///
/// **The check** (certify_lipsdp). (1) M is formed in double; each entry is a sum of at most
/// K = max_i n_i + 8 rounded products, so the formed M̂ obeys |M − M̂| ≤ γ_K·N entrywise
/// (Higham, Accuracy and Stability, §3.1), where N is the same sum of absolute values
/// (ρI + |W_1|ᵀ|A_1||W_1|, T_i + |W_{i+1}|ᵀ|A_{i+1}||W_{i+1}|, |C_i||W_i|, T_{m−1} + |W_m|ᵀ|W_m|) and
/// γ_K = Ku/(1 − Ku), u = 2⁻⁵³; hence ‖M − M̂‖₂ ≤ ‖M − M̂‖_F ≤ γ_K‖N‖_F, taken twice over for
/// the rounding of N and of its norm. (2) A congruence D M̂ D by a diagonal D of powers of two
/// (exact, inertia-preserving) brings M̂'s diagonal into [−2, −1/4): the multipliers of
/// different layers differ by orders of magnitude, and the Cholesky test's rounding term is
/// relative to the trace. (3) A = DM̂D + σI is passed to cholesky_bound() (one Cholesky
/// factorisation of μI − A with its own rounding analysis, Higham Thm 10.3), which proves
/// λ_max(A) ≤ σ − 2e, e covering (1), the rounding of the shift and of σ − 2e itself; then
/// λ_max(DMD) ≤ 0, so M ⪯ 0. σ is four times the factorisation's rounding terms (≈ 2dε·d),
/// not the size of the diagonal, since cholesky_bound() keeps 10⁻⁹ of its target in reserve:
/// so the test shows M ⪯ 0 whenever λ_max(DMD) < −(≈ 2d²ε), which matters where the
/// multipliers are large (a chain that is nearly linear). Cost: one factorisation, d³/3
/// flops, d = lipsdp_dimension().
///
/// Example:
///
///   std::vector<Eigen::VectorXd> t = …;              // from a solver, one vector per layer
///   double rho = certified_rho(chain, slopes, t, rho_solver);
///   if (std::isfinite(rho)) bound = std::nextafter(std::sqrt(rho), INFINITY);

#include <lipschitz/affine_chain.hpp>

#include <Eigen/Core>

#include <limits>
#include <string>
#include <vector>

namespace lipschitz {

/// n_0 + n_1 + ⋯ + n_{m−1}: the size of M (the input and every hidden layer).
Index lipsdp_dimension(const AffineChain& chain);

/// M(ρ, T) above, dense and symmetric. `slopes` and `multipliers` hold one vector per
/// activation layer (m − 1 of them, of sizes n_1 … n_{m−1}); any real values are accepted here
/// (the check below rejects negative multipliers). Throws std::invalid_argument where the
/// sizes do not match the chain (naming the layer and both sizes).
Eigen::MatrixXd lipsdp_matrix(const AffineChain& chain, const NeuronSlopes& slopes,
                              const std::vector<Eigen::VectorXd>& multipliers, double rho);

/// True only when M(ρ, T) ⪯ 0 is proven in floating point (the check above), so that
/// Lip₂(f) ≤ √ρ. False for any negative, NaN or infinite multiplier, a ρ that is negative or
/// not finite, NaN or infinite weights or slopes, a slope range with lower > upper, and
/// wherever the factorisation cannot show it (M singular or nearly so: a solver's point
/// exactly on the boundary needs a slightly larger ρ, see certified_rho()). Throws
/// std::invalid_argument on mismatched sizes, as lipsdp_matrix().
bool certify_lipsdp(const AffineChain& chain, const NeuronSlopes& slopes,
                    const std::vector<Eigen::VectorXd>& multipliers, double rho);

/// How search_certificate() inflates a candidate.
enum class RhoSearch {
  /// ρ_k = ρ̂(1 + δ_k), T fixed: for a solver's point that is strictly feasible but for its
  /// x_0 block (M is decreasing in ρ).
  rho_only,
  /// (ρ_k, T_k) = (1 + δ_k)(ρ̂, T): the homogeneous part of M grows while W_mᵀW_m stays, so
  /// a point that is feasible with equality (every pivot of the block LDLᵀ of −M positive
  /// but the last one singular, as ECLipsE-Fast's closed form) becomes strictly feasible.
  joint,
};
/// "rho_only", "joint".
std::string to_string(RhoSearch search);

/// A point of the LMI that certify_lipsdp() accepted, or none.
struct LipsdpCertificate {
  bool certified = false;
  /// The certified ρ, exactly the value that was checked (+∞ when none was).
  double rho = std::numeric_limits<double>::infinity();
  /// Exactly the multipliers that were checked (empty when none were).
  std::vector<Eigen::VectorXd> multipliers;
  /// Factorisations spent (calls of certify_lipsdp()).
  int checks = 0;
};

/// The smallest certified point of the sequence δ_0 = 0, δ_k = 10⁻⁹·2^{k−1} (k = 1 … 40,
/// δ_40 ≈ 550) inflated as `search` says. M is monotone along the sequence, so after δ_0 and
/// δ_40 a bisection on k finds it in at most 8 checks. Negative multipliers are rejected, not
/// clipped: clip them to 0 before the call if that is what is meant. `rho_hat` must be
/// positive and finite, else nothing is certified.
LipsdpCertificate search_certificate(const AffineChain& chain, const NeuronSlopes& slopes,
                                     const std::vector<Eigen::VectorXd>& multipliers,
                                     double rho_hat, RhoSearch search = RhoSearch::rho_only);

/// search_certificate(…, RhoSearch::rho_only).rho: the smallest certified ρ = ρ̂(1 + δ_k) with
/// T fixed, or +∞.
double certified_rho(const AffineChain& chain, const NeuronSlopes& slopes,
                     const std::vector<Eigen::VectorXd>& multipliers, double rho_hat);

}  // namespace lipschitz
