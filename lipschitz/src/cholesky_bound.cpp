// Compiled with -fcx-limited-range (lipschitz/CMakeLists.txt): Eigen's factorisation multiplies
// complex scalars in its triangular solves and vector tails, which otherwise call libgcc's
// __muldc3 (a NaN recovery per product) and made the test 1.4-1.6x slower. Its only complex
// divisions are by real pivots, whose squares the power-of-two scaling below keeps far from
// under- and overflow.
#include <lipschitz/cholesky_bound.hpp>

#include <Eigen/Cholesky>

#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>

namespace lipschitz {

namespace {

using Index = Eigen::Index;
template <class S>
using Real = typename Eigen::NumTraits<S>::Real;

constexpr double kInfinity = std::numeric_limits<double>::infinity();
/// Factorisations up to this size run unblocked (faster at d = 64, where Eigen's blocked one
/// spends its time in small triangular solves); larger ones blocked.
constexpr Index kBlockedMinSize = 96;
/// A factor whose pivots fall below this (on the matrix scaled to entries ≤ 1) counts as
/// failed: the rounding analysis assumes no underflow, and such a μI − A is singular to
/// working accuracy anyway.
constexpr double kSmallestPivot = 1e-15;

/// What the bounds need of A, in double.
struct Summary {
  Index d = 0;
  double trace = 0;      // Σ a_jj
  double max_diag = 0;   // max a_jj
  double frobenius = 0;  // ‖A‖_F, from the lower triangle
};

template <class S>
Summary summarise(const CholeskySquare<S>& a) {
  Summary s;
  s.d = a.rows();
  double squares = 0;
  for (Index j = 0; j < s.d; ++j) {
    const double diag = double(std::real(a(j, j)));
    s.trace += diag;
    s.max_diag = std::max(s.max_diag, diag);
    squares += 2.0 * double(a.col(j).tail(s.d - j - 1).squaredNorm()) + diag * diag;
  }
  s.frobenius = std::sqrt(squares);
  return s;
}

/// c of ‖ΔH‖₂ ≤ c/(1−c)·tr(H) for a factorisation in the precision of P. Real arithmetic:
/// Higham's γ_{d+1} ≈ (d+1)ε/2. A complex inner product is two real ones of twice the length,
/// and a complex entry's error √2 times a real one's; Eigen also multiplies by a computed
/// reciprocal of the (real) pivot, a few roundings more. 2(d+4)ε covers all of it.
template <class P>
double rounding_constant(Index d) {
  return 2.0 * double(d + 4) * double(std::numeric_limits<Real<P>>::epsilon());
}

/// Coefficient of ‖H‖_F in the error of rounding H = μI − A into P: the diagonal's own
/// rounding (μ − a_jj in double), and each entry's when P is narrower than S.
template <class P, class S>
double conversion_constant() {
  const double eps_d = std::numeric_limits<double>::epsilon();
  if (std::is_same_v<P, S>) return eps_d;
  return eps_d + double(std::numeric_limits<Real<P>>::epsilon());
}

/// Relative error of tr(H) as summed here: each h_jj rounded twice (μ − a_jj in double, then
/// into P), the sum of d terms in double.
template <class P>
double trace_slack(Index d) {
  return 2.0 * double(std::numeric_limits<Real<P>>::epsilon()) +
         double(d) * std::numeric_limits<double>::epsilon();
}

/// Absolute allowance for underflow in P on a matrix scaled by 2^−e (`unscale` = 2^e): every
/// underflowed operation errs by less than P's smallest normal number, and each entry of the
/// factorisation takes at most 2d + 8 of them (on the scaled matrix, entries ≤ 1).
template <class P>
double underflow_allowance(Index d, double unscale) {
  const double tiny = double(std::numeric_limits<Real<P>>::min());
  return double(d) * double(2 * d + 8) * tiny * unscale;
}

/// The shift μ whose certified bound (as attempt() computes it, for 0 ≤ a_jj ≤ μ) is just
/// below `target`: μ + k(1+ρ)(dμ − tr A) + e(√d·μ + ‖A‖_F) + τ = target·(1 − 1e-9).
template <class P, class S>
double shift_for(const Summary& s, double target) {
  const double d = double(s.d);
  const double c = rounding_constant<P>(s.d);
  if (!(c < 0.25)) return 0;
  const double k = c / (1.0 - c) * (1.0 + trace_slack<P>(s.d));
  const double e = conversion_constant<P, S>();
  const double tau = underflow_allowance<P>(s.d, 2.0 * std::max(target, s.max_diag));
  return (target * (1.0 - 1e-9) + k * s.trace - e * s.frobenius - tau) /
         (1.0 + k * d + e * std::sqrt(d));
}

/// One factorisation in the precision of P of H = μI − A: the certified bound on λ_max(A), or
/// +∞ when it does not run to completion.
template <class P, class S>
double attempt(const CholeskySquare<S>& a, const Summary& s, double mu, CholeskySquare<P>& h) {
  using R = Real<P>;
  const Index d = s.d;
  const double c = rounding_constant<P>(d);
  if (!(mu > 0) || !(c < 0.25)) return kInfinity;
  // Scaled by a power of two (exact) so that the entries are ≤ 1: far from P's overflow, and
  // the underflow allowance is relative to 1.
  int exponent = 0;
  std::frexp(std::max(mu, s.max_diag), &exponent);
  const double scale = std::ldexp(1.0, -exponent);
  h.resize(d, d);
  h.template triangularView<Eigen::StrictlyLower>() = (a * S(-scale)).template cast<P>();
  double diag_abs = 0, diag_squares = 0;
  for (Index j = 0; j < d; ++j) {
    const double hjj = mu - double(std::real(a(j, j)));
    diag_abs += std::abs(hjj);
    diag_squares += hjj * hjj;
    h(j, j) = P(R(hjj * scale));
  }
  // The in-place factorisation behind Eigen::LLT, without LLT's L1-norm pass (a complex abs
  // per entry, as costly as the factorisation for small matrices); −1 means success.
  const Index failed = d <= kBlockedMinSize ? Eigen::internal::llt_inplace<P, Eigen::Lower>::unblocked(h)
                                            : Eigen::internal::llt_inplace<P, Eigen::Lower>::blocked(h);
  if (failed >= 0) return kInfinity;
  // Every entry of L feeds a later pivot, so a NaN or ∞ anywhere shows on the diagonal (a
  // NaN pivot passes Eigen's `≤ 0` test).
  const auto pivots = h.diagonal().real();
  if (!pivots.allFinite() || !(pivots.minCoeff() >= R(kSmallestPivot))) return kInfinity;
  // ‖ΔH‖₂ ≤ c·‖|G||G|ᵀ‖₂ ≤ c·‖G‖_F² and ‖G‖_F² = tr(H + ΔH) ≤ tr(H)/(1 − c).
  const double factorisation = c / (1.0 - c) * diag_abs * (1.0 + trace_slack<P>(d));
  const double conversion =
      conversion_constant<P, S>() * (std::sqrt(diag_squares) + s.frobenius);
  return mu + factorisation + conversion + underflow_allowance<P>(d, 1.0 / scale);
}

}  // namespace

template <class S>
double cholesky_bound(const CholeskySquare<S>& a, double lambda_target, double lambda_known,
                      CholeskyWork<S>& work) {
  using Low = typename SinglePrecision<S>::type;
  if (a.rows() == 0) return 0;
  const Summary s = summarise(a);
  // λ_max(A) ≤ ‖A‖_F, which the summary holds anyway: no factorisation where that suffices
  // (rounded up for its sum of at most 2d² squares, in double).
  const double frobenius =
      s.frobenius * (1.0 + 4.0 * double(s.d + 2) * std::numeric_limits<double>::epsilon());
  if (frobenius <= lambda_target) return frobenius;
  if constexpr (!std::is_same_v<Low, S>) {
    // Single precision's rounding term, c·tr(μI − A) ≈ 2dε·(dμ − tr A), is 10⁻³ to 10⁻² of λ
    // for d = 64 to 256: enough below the target for most blocks but the top ones; at d = 512
    // (5·10⁻²) it rarely is. Not tried where λ_max is known to exceed its shift, nor while it
    // has failed more often than it succeeded on this `work`'s calls, but for probes.
    const double mu = shift_for<Low, S>(s, lambda_target);
    const bool favoured = 2 * (work.single_successes + 2) >= work.single_tries + 3;
    const bool probe = mu > lambda_known && !favoured &&
                       ++work.single_skipped >= work.single_probe_after;
    if (mu > lambda_known && (favoured || probe)) {
      work.single_skipped = 0;
      const double bound = attempt<Low, S>(a, s, mu, work.single);
      if (bound <= lambda_target) {
        ++work.single_tries;
        ++work.single_successes;
        if (probe) work.single_probe_after = 8;
        return bound;
      }
      // A failure counts against single precision only where double then succeeds: one
      // below the target fails either way.
      const double exact = attempt<S, S>(a, s, shift_for<S, S>(s, lambda_target), work.factor);
      if (exact <= lambda_target) {
        ++work.single_tries;
        if (probe) work.single_probe_after = std::min(2 * work.single_probe_after, 1 << 20);
      }
      return exact;
    }
  }
  return attempt<S, S>(a, s, shift_for<S, S>(s, lambda_target), work.factor);
}

template double cholesky_bound(const CholeskySquare<float>&, double, double, CholeskyWork<float>&);
template double cholesky_bound(const CholeskySquare<double>&, double, double,
                               CholeskyWork<double>&);
template double cholesky_bound(const CholeskySquare<std::complex<float>>&, double, double,
                               CholeskyWork<std::complex<float>>&);
template double cholesky_bound(const CholeskySquare<std::complex<double>>&, double, double,
                               CholeskyWork<std::complex<double>>&);

}  // namespace lipschitz
