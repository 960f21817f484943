#pragma once
/// \file lanczos.hpp
/// Lower bounds on the largest singular value of a linear operator given by its action.

#include <lipschitz/conv_spec.hpp>

#include <Eigen/Core>
#include <Eigen/Eigenvalues>

#include <algorithm>
#include <cmath>
#include <complex>
#include <cstdint>
#include <random>
#include <type_traits>
#include <vector>

#ifdef _OPENMP
#include <omp.h>
#endif

namespace lipschitz {

/// Options for lanczos_top_singular_value().
struct LanczosOptions {
  int max_steps = 64;        ///< Krylov dimension cap (memory: max_steps · input_size values)
  double tolerance = 1e-7;   ///< stop once the Ritz residual ‖Aŷ − θŷ‖ ≤ tolerance · θ
  double target = HUGE_VAL;  ///< stop once σ estimate ≥ target (e.g. a known upper bound)
  /// Stop once the σ estimate grew by less than this (relative) over the last
  /// `stagnation_window` steps: the bound is then as good as more steps would make it, within
  /// that margin. 0 disables.
  double stagnation = 0;
  int stagnation_window = 8;
  std::uint64_t seed = 0x5eedULL;  ///< seed of the random start vector
  /// Start vector (length input_size()); empty: a seeded random one.
  std::vector<double> start;
  /// Threads for the reorthogonalisation (rows of the basis split between them) when the
  /// input has at least 2¹⁵ entries and the call is not already inside a parallel region.
  /// The operator's own threads are its business. The sums are taken in thread order, so a
  /// given thread count gives the same result on every run.
  int threads = 1;
};

/// Result of lanczos_top_singular_value().
struct LanczosResult {
  double value = 0;  ///< ‖T y‖ / ‖y‖ for the final Ritz vector y, evaluated explicitly: ≤ σ₁
  double ritz = 0;         ///< √θ₁ from the tridiagonal matrix (an estimate, not a bound)
  int steps = 0;           ///< Lanczos steps taken
  bool converged = false;  ///< residual or target criterion met
};

/// Lanczos with full reorthogonalisation on `TᴴT`, where `op` provides `apply(x, y)` (y = T x),
/// `apply_adjoint(y, x)` (x = Tᴴ y), `input_size()` and `output_size()`, over the scalar `T`
/// (real, or complex for the engine's frequency blocks). The returned `value` is
/// recomputed from the Ritz vector, so it is a lower bound on σ₁(T) however the iteration
/// behaved (up to rounding in one application of T). Lanczos rather than plain power iteration
/// because the top of a convolution's spectrum is clustered, where power iteration crawls
/// (Krylov methods converge like exp(−2k√gap) instead of exp(−2k·gap)).
template <class T, class Op>
LanczosResult lanczos_top_singular_value(Op& op, const LanczosOptions& options = {}) {
  using Vec = Eigen::Matrix<T, Eigen::Dynamic, 1>;
  using Mat = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic>;
  using Real = typename Eigen::NumTraits<T>::Real;
  // The final norms in double, whatever T's precision.
  using Wide = std::conditional_t<Eigen::NumTraits<T>::IsComplex, std::complex<double>, double>;
  const Index n = op.input_size();
  const Index steps_cap = std::max<Index>(1, std::min<Index>(options.max_steps, n));
  Mat q(n, steps_cap);
  Vec w(n), tmp(op.output_size());
  std::vector<double> alpha, beta;
  std::mt19937_64 rng(options.seed);
  std::normal_distribution<double> normal;
  if (Index(options.start.size()) == n)
    for (Index i = 0; i < n; ++i) q(i, 0) = T(options.start[i]);
  else
    for (Index i = 0; i < n; ++i) q(i, 0) = T(normal(rng));
  if (!(q.col(0).norm() > 0))
    for (Index i = 0; i < n; ++i) q(i, 0) = T(normal(rng));
  q.col(0).normalize();

  // w −= Q₁..ₖ (Q₁..ₖᴴ w): two matrix–vector products that read the whole basis, for large
  // inputs the bulk of the time after the operator; split by rows between threads, each
  // thread's share of Qᴴw summed in thread order.
  int threads = 1;
#ifdef _OPENMP
  if (n >= (Index(1) << 15) && !omp_in_parallel()) threads = std::max(1, options.threads);
#endif
  Mat parts(steps_cap, threads);
  auto project_out = [&](Index k) {
    if (threads == 1) {
      w.noalias() -= q.leftCols(k) * (q.leftCols(k).adjoint() * w);
      return;
    }
#ifdef _OPENMP
#pragma omp parallel num_threads(threads)
    {
      const Index t = omp_get_thread_num(), count = omp_get_num_threads();
      const Index r0 = n * t / count, r1 = n * (t + 1) / count;
      parts.col(t).head(k).noalias() =
          q.block(r0, 0, r1 - r0, k).adjoint() * w.segment(r0, r1 - r0);
#pragma omp barrier
      Vec c = parts.col(0).head(k);
      for (Index u = 1; u < count; ++u) c += parts.col(u).head(k);
      w.segment(r0, r1 - r0).noalias() -= q.block(r0, 0, r1 - r0, k) * c;
    }
#endif
  };

  LanczosResult result;
  Eigen::VectorXd ritz_coeffs;
  std::vector<double> history;
  for (Index j = 0; j < steps_cap; ++j) {
    op.apply(q.col(j).data(), tmp.data());
    op.apply_adjoint(tmp.data(), w.data());
    alpha.push_back(double(std::real(q.col(j).dot(w))));
    // Full reorthogonalisation against the whole basis, repeated only when it cancelled most of
    // w (Kahan–Parlett: ‖w‖ fell below 1/√2 of what it was; "twice is enough"). Each pass
    // reads the whole basis, which for large inputs is the bulk of the time.
    double before = double(w.norm());
    for (int pass = 0; pass < 2; ++pass) {
      project_out(j + 1);
      const double after = double(w.norm());
      if (after > 0.7071 * before) break;
      before = after;
    }
    const double b = double(w.norm());
    result.steps = int(j + 1);

    const Index k = j + 1;
    Eigen::MatrixXd tri = Eigen::MatrixXd::Zero(k, k);
    for (Index i = 0; i < k; ++i) {
      tri(i, i) = alpha[i];
      if (i + 1 < k) tri(i, i + 1) = tri(i + 1, i) = beta[i];
    }
    Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> es(tri);
    const double theta = es.eigenvalues()(k - 1);
    ritz_coeffs = es.eigenvectors().col(k - 1);
    result.ritz = std::sqrt(std::max(theta, 0.0));
    const double residual = b * std::abs(ritz_coeffs(k - 1));
    history.push_back(result.ritz);
    const Index window = options.stagnation_window;
    const bool stagnated = options.stagnation > 0 && k > window &&
                           result.ritz - history[static_cast<std::size_t>(k - 1 - window)] <=
                               options.stagnation * result.ritz;
    if (residual <= options.tolerance * theta || result.ritz >= options.target ||
        b <= 1e-12 * std::max(theta, 1e-300) || stagnated) {
      result.converged = true;
      break;
    }
    if (j + 1 == steps_cap) break;
    beta.push_back(b);
    q.col(j + 1) = w / Real(b);
  }
  const Index k = result.steps;
  Vec y = q.leftCols(k) * ritz_coeffs.cast<T>();
  op.apply(y.data(), tmp.data());
  const double ny = y.template cast<Wide>().norm();
  result.value = ny > 0 ? tmp.template cast<Wide>().norm() / ny : 0.0;
  return result;
}

}  // namespace lipschitz
