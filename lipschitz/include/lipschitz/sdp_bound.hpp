#pragma once
/// \file sdp_bound.hpp
/// Whole-network Lipschitz bounds of an AffineChain from the LipSDP-Neuron matrix inequality
/// (lmi_certificate.hpp, ALGORITHMS.md §6b): the SDP solved by CSDP (lipsdp_neuron), and a
/// layer-by-layer closed form in the spirit of ECLipsE-Fast (eclipse_fast). Neither prints a
/// number it has not certified: each hands its (ρ, T) to search_certificate(), and only a ρ
/// that certify_lipsdp() proved becomes upper_bound = √ρ, rounded up.
///
/// Example:
///
///   const NeuronSlopes slopes = global_slopes(chain);
///   SdpBound fast = eclipse_fast(chain, slopes);        // milliseconds, linear in depth
///   SdpBound sdp = lipsdp_neuron(chain, slopes);        // seconds; tighter
///   double bound = std::min(fast.upper_bound, sdp.upper_bound);  // +∞ where uncertified

#include <lipschitz/affine_chain.hpp>

#include <Eigen/Core>

#include <limits>
#include <string>
#include <vector>

namespace lipschitz {

/// Options of lipsdp_neuron().
struct SdpOptions {
  /// CSDP's iteration limit (its `maxiter`; CSDP's own default is 100, and well-scaled
  /// LipSDP problems take 20–40). Must be ≥ 1.
  int max_iterations = 100;
  /// Time budget in seconds, ≥ 0 (0 or ∞: none). CSDP offers no way to interrupt a solve
  /// (short of replacing its global `user_exit` hook, which a library must not do), so it is
  /// enforced before the solve: the problem is refused (status "refused: …") when its
  /// estimated time exceeds it: min(max_iterations, 40) iterations, each costing CSDP's
  /// Schur-complement matrix O (per constraint either two dense d × d products at 2·10¹⁰
  /// flop/s or its sparse pairings with the others at 2·10⁹) and the factorisation of O. A
  /// coarse guard against solves of hours, not a deadline: measured 1.5–3 times
  /// pessimistic on two cores (2→128→128→128→1: ReLU estimated 46 s, took 31 s; LeakyReLU,
  /// whose constraints are dense, 123 s and 39 s; ReLU 2→256→256→256→1 estimated 712 s,
  /// refused at the default).
  double max_seconds = 600;
  /// Refuse (status "refused: …") when the LMI's dimension n_0 + n_1 + ⋯ + n_{m−1} exceeds
  /// this: CSDP's memory grows as k² + 12d² doubles (k = 1 + n_1 + ⋯ + n_{m−1} multipliers)
  /// and its time as k·d³ per iteration for dense constraints.
  Index max_lmi_size = 3000;
  /// Strictness η > 0 (≥ 0 accepted): the solver is asked for M(ρ, T) ⪯ −η·I on the
  /// normalised problem (each W_i scaled by a power of two so that ‖W_i‖·max slope ∈ [1/2, 1),
  /// making ρ and the multipliers O(1)). An interior-point solution violates its constraints
  /// by about `tolerance`; a margin a little larger lets the certificate succeed without
  /// inflating ρ, at a relative cost of about η in ρ.
  double strictness = 1e-7;
  /// CSDP's stopping tolerances (objtol, axtol, atytol: relative gap and primal and dual
  /// infeasibility), > 0. CSDP's default 10⁻⁸.
  double tolerance = 1e-8;
};

/// A bound and how it was reached.
struct SdpBound {
  /// √ρ rounded up for the certified ρ: Lip₂(f) ≤ upper_bound. +∞ when nothing was certified.
  double upper_bound = std::numeric_limits<double>::infinity();
  /// Whether certify_lipsdp() proved M(ρ, T) ⪯ 0 (or the chain is constant: some W_k = 0,
  /// upper_bound 0).
  bool certified = false;
  /// "lipsdp_neuron" or "eclipse_fast".
  std::string method;
  /// What happened, in words: the solver's outcome and the certificate's, or why it refused.
  std::string status;
  /// lipsdp_neuron: −1 (CSDP's sdp() does not report its iteration count).
  /// eclipse_fast: the Cholesky factorisations and eigenvalue solves of its elimination (2
  /// per layer with the closed form, ≈ 80 where a layer's α·β ≠ 0 needs the search).
  int iterations = 0;
  /// The method's own, uncertified value √ρ̂ (CSDP's optimum, or the closed form's), NaN where
  /// there was none.
  double solver_value = std::numeric_limits<double>::quiet_NaN();
  /// Wall-clock seconds of the whole call, certificate included.
  double seconds = 0;
  /// The certified multipliers t_1 … t_{m−1} (sizes n_1 … n_{m−1}), empty when uncertified:
  /// certify_lipsdp(chain, slopes, multipliers, rho) holds.
  std::vector<Eigen::VectorXd> multipliers;
  /// The certified ρ itself (+∞ when uncertified).
  double rho = std::numeric_limits<double>::infinity();
};

/// LipSDP-Neuron: min ρ s.t. M(ρ, T) ⪯ −η·I, T ≥ 0 (lmi_certificate.hpp for M), solved by
/// CSDP (an interior-point method, Borchers 1999) through its library call, silently (no
/// output, no parameter file read), on the normalised problem; then certified on the given
/// chain (search_certificate: ρ inflated alone first, then jointly with T). Works for any
/// depth m ≥ 1 (for m = 1 it is ‖W_1‖ up to η: a caller that has ‖W_1‖ needs no SDP), any
/// widths and output dimension. CSDP's cost grows as k·d³ per iteration (d the LMI size, k
/// the number of multipliers + 1): 2→64→64→64→1 takes 2 s, 2→128→128→128→1 30 s.
///
/// Throws std::invalid_argument on mismatched sizes (slopes vs the chain, consecutive
/// weights) and invalid options; non-finite weights or slopes, a refusal, CSDP's failure and
/// a failed certificate are results (certified = false, with a status).
///
/// CSDP holds global state and is not reentrant: calls are serialised by a mutex.
SdpBound lipsdp_neuron(const AffineChain& chain, const NeuronSlopes& slopes,
                       const SdpOptions& options = {});

/// A closed-form certificate of the same LMI, one layer at a time (in the spirit of
/// ECLipsE-Fast, Xu & Sivaranjani, NeurIPS 2024): cost O(Σ n_i³), linear in depth.
///
/// With T_i = ρ·τ_i·I and ρ = 1, eliminate −M block by block (block LDLᵀ): the pivots are
/// R_0 = I + τ_1 K_1 with K_i = W_iᵀ diag(α_i∘β_i) W_i, and for each hidden layer
///
///   R_i(τ_i) = τ_i I − τ_i² C_iW_i (R_{i−1} + τ_i K_i)⁻¹ W_iᵀC_i,   C_i = diag((α_i+β_i)/2)
///
/// (the K_{i+1} term of the block joins the next pivot). Each τ_i maximises λ_min(R_i), which
/// is concave in τ_i: where α∘β = 0 (ReLU) in closed form, τ_i = 1/(2λ_max(P_i)),
/// P_i = C_iW_iR_{i−1}⁻¹W_iᵀC_i, and R_i = τ_iI − τ_i²P_i ⪰ (τ_i/2)I; otherwise from that start by
/// a golden-section search (≈ 30 factorisations). The last pivot R_{m−1} − W_mᵀW_m/ρ ⪰ 0
/// needs ρ ≥ s = ‖W_m R_{m−1}^{−1/2}‖², so Lip ≤ √s, with T_i = s·τ_i·I; every pivot but that
/// one is positive definite, so the joint inflation (1 + δ)(s, T) of search_certificate()
/// makes it strict, and certify_lipsdp() decides the printed bound with the true α, β. For
/// ReLU it is at most the product of the layer norms (before that inflation, ~10⁻⁸).
///
/// Throws as lipsdp_neuron(); failures are results.
SdpBound eclipse_fast(const AffineChain& chain, const NeuronSlopes& slopes);

}  // namespace lipschitz
