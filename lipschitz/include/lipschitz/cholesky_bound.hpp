#pragma once
/// \file cholesky_bound.hpp
/// A certified upper bound on the largest eigenvalue of a Hermitian matrix by one Cholesky
/// factorisation (docs/math.md §5.4): the σ₁ search's test of every frequency block.

#include <Eigen/Core>

#include <complex>

namespace lipschitz {

template <class S>
using CholeskySquare = Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic>;

/// The single-precision counterpart of S (float for double, complex<float> for complex<double>;
/// float types are their own).
template <class S>
struct SinglePrecision {
  using type = S;
};
template <>
struct SinglePrecision<double> {
  using type = float;
};
template <>
struct SinglePrecision<std::complex<double>> {
  using type = std::complex<float>;
};

/// Buffers of cholesky_bound(), kept between calls: the factor in S and in single precision,
/// and how single precision has fared on these calls.
template <class S>
struct CholeskyWork {
  CholeskySquare<S> factor;
  CholeskySquare<typename SinglePrecision<S>::type> single;
  /// Calls where single precision was tried and it, or else double, met the target; and those
  /// where it did.
  int single_tries = 0, single_successes = 0;
  /// While single precision is out of favour: calls since it was last tried, and how many a
  /// probe waits for (8, doubled after each probe that fails, back to 8 after one that succeeds).
  int single_skipped = 0, single_probe_after = 8;
};

/// A certified bound on λ_max(A) for the Hermitian `a` (only its lower triangle is read), at
/// most `lambda_target` when this test can show that much, else +∞.
///
/// It factorises H = μI − A, μ chosen just below the target. A Cholesky factorisation that
/// runs to completion in floating point gives H + ΔH = GGᴴ ⪰ 0 with |ΔH| ≤ c|G||G|ᵀ (Higham,
/// Accuracy and Stability of Numerical Algorithms, Thm 10.3; it needs no definiteness, only
/// completion), and ‖|G||G|ᵀ‖₂ ≤ ‖G‖_F² = tr(GGᴴ) ≤ tr(H)/(1 − c). So
/// λ_max(A) ≤ μ + c/(1−c)·tr(H), plus the rounding of H into the factorisation's precision.
/// With c = 2(d+4)ε that term is ~2dε·(dμ − tr A). Sylvester's law of inertia makes this a test
/// of every eigenvalue at once, for one factorisation (d³/3 flops) instead of an eigen-solve.
/// Where ‖A‖_F (rounded up) is already at most the target, that is returned, and nothing is
/// factorised.
///
/// For double scalars the factorisation is tried in single precision first, twice as fast, if
/// its wider rounding term (10⁻³ of λ at d = 64, 10⁻² at d = 256) still lets μ exceed
/// `lambda_known`, a known lower bound on λ_max(A) (0 if none), and while it has succeeded on
/// at least half of the calls with this `work` where it was tried and double met the target
/// (two successes counted in advance: a failed try costs 0.5–0.6 of a double factorisation, a
/// success saves 0.4–0.5), or as a probe after `single_probe_after` calls out of favour (the
/// σ₁ search meets its hardest blocks first: without probes, two early failures ruled single
/// precision out for the rest of a search); then in double if that fails.
template <class S>
double cholesky_bound(const CholeskySquare<S>& a, double lambda_target, double lambda_known,
                      CholeskyWork<S>& work);

}  // namespace lipschitz
