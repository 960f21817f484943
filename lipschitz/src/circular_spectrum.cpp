#include <lipschitz/circular_spectrum.hpp>

#include "parallel.hpp"

#include <Eigen/Cholesky>
#include <Eigen/Eigenvalues>
#include <Eigen/SVD>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>
#include <numeric>
#include <stdexcept>

namespace lipschitz {

std::string to_string(BlockSolver solver) {
  return solver == BlockSolver::svd ? "svd" : "gram-eigen";
}

BlockSolver block_solver_from_string(const std::string& text) {
  if (text == "gram-eigen") return BlockSolver::gram_eigen;
  if (text == "svd") return BlockSolver::svd;
  throw std::invalid_argument("block solver must be 'gram-eigen' or 'svd', got '" + text + "'");
}

template <class T>
RoundingMargin rounding_margin(const KernelSpectrum<T>& spectrum, Index rows, Index cols) {
  const double eps = std::numeric_limits<T>::epsilon();
  const double points = double(spectrum.torus()[0]) * double(spectrum.torus()[1]);
  RoundingMargin m;
  // Products and the eigen-solver: 8ε(rows + cols). The Gram matrix: ‖fl(BBᴴ) − BBᴴ‖₂ ≤
  // γ_D‖B‖_F² ≤ γ_D·d·σ₁² (D, d the larger and smaller side; rank ≤ d), a relative error of
  // D·d·ε on λ, half that on σ; counted twice for complex arithmetic. Worst case, not typical:
  // it is what keeps an upper bound above the truth whatever the rounding did.
  m.relative = 8.0 * eps * double(rows + cols) + 4.0 * eps * double(rows) * double(cols);
  const double taps = double(spectrum.conv().kernel[0] * spectrum.conv().kernel[1]);
  m.absolute = 8.0 * eps * (std::log2(std::max(points, 2.0)) + taps + 1.0) * spectrum.norm_scale();
  return m;
}

namespace {

// Blocks come row-major from KernelSpectrum; Gram matrices and their work copies are
// column-major, the layout Eigen's eigen-solver and Cholesky are written for.
template <class T>
using Matrix = typename KernelSpectrum<T>::Matrix;
template <class T>
using Square = Eigen::Matrix<std::complex<T>, Eigen::Dynamic, Eigen::Dynamic>;
template <class T>
using Vector = Eigen::Matrix<std::complex<T>, Eigen::Dynamic, 1>;

/// Lower triangle of the smaller Gram matrix: B Bᴴ if B is wide, Bᴴ B if tall.
template <class T>
void gram(const Matrix<T>& b, Square<T>& a) {
  const Index d = std::min(b.rows(), b.cols());
  a.setZero(d, d);
  if (b.rows() <= b.cols())
    a.template selfadjointView<Eigen::Lower>().rankUpdate(b);
  else
    a.template selfadjointView<Eigen::Lower>().rankUpdate(b.adjoint());
}

/// Largest eigenvalue of the Hermitian matrix whose lower triangle is `a`.
template <class T>
T largest_eigenvalue(const Square<T>& a) {
  Eigen::SelfAdjointEigenSolver<Square<T>> es(a, Eigen::EigenvaluesOnly);
  return es.eigenvalues().maxCoeff();
}

/// Power iteration on BᴴB started from the largest row of B; returns ‖B v‖/‖v‖ ≤ σ₁(B).
template <class T>
T power_lower_bound(const Matrix<T>& b, int steps, Vector<T>& v) {
  if (v.size() != b.cols()) {
    Index r = 0;
    b.rowwise().squaredNorm().maxCoeff(&r);
    v = b.row(r).adjoint();
  }
  Vector<T> w;
  T value = 0;
  for (int k = 0; k <= steps; ++k) {
    const T nv = v.norm();
    if (!(nv > 0)) return T(0);
    v /= nv;
    w.noalias() = b * v;
    value = w.norm();
    if (k < steps) v.noalias() = b.adjoint() * w;
  }
  return value;
}

/// Gram iteration (Delattre et al. 2023, ALGORITHMS.md §5) on the Hermitian PSD `a` (lower
/// triangle), rescaled at every step: λ_max(A) ≤ ‖A^(2^j)‖_F^(1/2^j). Stops as soon as the bound
/// is ≤ `stop`; returns the last bound on λ_max.
template <class T>
double gram_iteration(Square<T> h, int steps, double stop) {
  h = h.template selfadjointView<Eigen::Lower>();
  double log_c = std::log(double(h.norm()));  // log ‖A^(2^j)‖_F, tracked without overflow
  if (!std::isfinite(log_c)) return log_c < 0 ? 0.0 : std::numeric_limits<double>::infinity();
  h /= T(h.norm());
  double bound = std::exp(log_c);
  Square<T> next;
  for (int j = 1; j <= steps && bound > stop; ++j) {
    next.noalias() = h * h;  // H is Hermitian: Hᴴ H = H²
    const double r = double(next.norm());
    if (!(r > 0)) return bound;
    h = next / T(r);
    log_c = 2.0 * log_c + std::log(r);
    bound = std::min(bound, std::exp(log_c / std::ldexp(1.0, j)));
  }
  return bound;
}

/// Certifies λ_max(A) ≤ `lambda_target` for the Hermitian `a` (lower triangle) by a Cholesky
/// factorisation of μI − A: it succeeds in floating point only if μI − A + ΔH ≻ 0 with
/// ‖ΔH‖₂ ≤ δ = 4(d+1)d·ε·(μ + ‖A‖_F) (Higham, Accuracy and Stability of Numerical Algorithms,
/// Thm 10.3: |ΔH| ≤ γ_{d+1}|L||Lᴴ|, and ‖|L||Lᴴ|‖₂ ≤ d‖LLᴴ‖₂; the factor 4 covers the
/// 1/(1 − γ) terms and complex arithmetic), and then λ_max(A) ≤ μ + δ. μ is chosen so that
/// μ + δ meets the target. Sylvester's law of inertia makes this a test on every eigenvalue at
/// once, at the cost of a blocked Cholesky (d³/3) instead of an eigen-solve.
/// Returns the certified bound μ + δ on λ_max, or +∞ when the factorisation fails.
template <class T>
double cholesky_bound(const Square<T>& a, double lambda_target, Square<T>& work) {
  const Index d = a.rows();
  const double c = 4.0 * double(d + 1) * double(d) * std::numeric_limits<T>::epsilon();
  // `a` holds the lower triangle only: ‖A‖_F ≤ √2 ‖lower(A)‖_F.
  const double frobenius = std::sqrt(2.0) * double(a.norm());
  // μ + δ = target·(1 − 1e-12); the factor keeps this arithmetic's own rounding from pushing
  // the bound past the target.
  const double mu = (lambda_target * (1.0 - 1e-12) - c * frobenius) / (1.0 + c);
  if (!(mu > 0)) return std::numeric_limits<double>::infinity();
  work = -a;
  work.diagonal().array() += T(mu);
  // The in-place blocked factorisation behind Eigen::LLT, without LLT's L1-norm pass (a complex
  // abs per entry, as costly as the factorisation for small blocks); −1 means success.
  const Index failed = Eigen::internal::llt_inplace<std::complex<T>, Eigen::Lower>::blocked(work);
  return failed < 0 ? mu + c * (mu + frobenius) : std::numeric_limits<double>::infinity();
}

}  // namespace

template <class T>
std::vector<T> circular_singular_values(const KernelSpectrum<T>& spectrum,
                                        const SpectrumOptions& options) {
  const Index freqs = spectrum.frequency_count();
  const Index groups = spectrum.conv().groups;
  const Index d = std::min(spectrum.block_rows(), spectrum.block_cols());
  // Slot of each block's values in the output: multiplicity · d values per block.
  std::vector<Index> offset(static_cast<std::size_t>(freqs + 1), 0);
  for (Index f = 0; f < freqs; ++f)
    offset[f + 1] = offset[f] + spectrum.multiplicity(f) * d * groups;
  std::vector<T> values(static_cast<std::size_t>(offset[freqs]));
  const Index jobs = freqs * groups;
  const int threads = detail::resolve_threads(options.threads);
#pragma omp parallel num_threads(threads)
  {
    Matrix<T> b;
    Square<T> a;
    Eigen::Matrix<T, Eigen::Dynamic, 1> sv;
#pragma omp for schedule(dynamic)
    for (Index job = 0; job < jobs; ++job) {
      const Index f = job / groups, g = job % groups;
      spectrum.block(f, g, b);
      if (options.solver == BlockSolver::svd) {
        // Jacobi, not BDCSVD: Eigen 3.4.0's BDCSVD returns wrong values for repeated ones.
        Eigen::JacobiSVD<Matrix<T>> svd(b);
        sv = svd.singularValues();
      } else {
        gram<T>(b, a);
        Eigen::SelfAdjointEigenSolver<Square<T>> es(a, Eigen::EigenvaluesOnly);
        sv = es.eigenvalues().cwiseMax(T(0)).cwiseSqrt();
      }
      const Index mult = spectrum.multiplicity(f);
      T* out = values.data() + offset[f] + g * mult * d;
      for (Index r = 0; r < mult; ++r) std::copy(sv.data(), sv.data() + d, out + r * d);
    }
  }
  std::sort(values.begin(), values.end(), std::greater<T>());
  return values;
}

template <class T>
NormBounds circular_norm_bounds(const KernelSpectrum<T>& spectrum, const NormOptions& options) {
  if (!(options.tolerance >= 0))
    throw std::invalid_argument("tolerance must be non-negative, got " +
                                std::to_string(options.tolerance));
  const Index groups = spectrum.conv().groups;
  const Index jobs = spectrum.frequency_count() * groups;
  const int threads = detail::resolve_threads(options.threads);
  const RoundingMargin margin =
      rounding_margin(spectrum, spectrum.block_rows(), spectrum.block_cols());

  // Phase 1: a cheap lower bound (power iteration) and upper bound (Frobenius) per block.
  std::vector<double> lower(static_cast<std::size_t>(jobs)), frob(static_cast<std::size_t>(jobs));
#pragma omp parallel num_threads(threads)
  {
    Matrix<T> b;
    Vector<T> v;
#pragma omp for schedule(dynamic)
    for (Index job = 0; job < jobs; ++job) {
      spectrum.block(job / groups, job % groups, b);
      v.resize(0);
      lower[job] = margin.lower(double(power_lower_bound<T>(b, options.power_steps, v)));
      frob[job] = margin.upper(double(b.norm()));
    }
  }
  std::vector<Index> order(static_cast<std::size_t>(jobs));
  std::iota(order.begin(), order.end(), Index(0));
  std::sort(order.begin(), order.end(), [&](Index x, Index y) { return lower[x] > lower[y]; });

  Index best = 0;
  for (Index job = 1; job < jobs; ++job)
    if (lower[job] > lower[best]) best = job;
  std::atomic<double> best_lower{lower[best]};
  auto raise = [&](double value) {
    double cur = best_lower.load();
    while (value > cur && !best_lower.compare_exchange_weak(cur, value)) {
    }
  };

  // Phase 2, in decreasing order of the lower bounds so the best one is found early.
  std::vector<double> upper(static_cast<std::size_t>(jobs));
  std::atomic<Index> pruned{0}, settled{0}, resolved{0};
  const double tol = options.tolerance;
  auto process = [&](Index job, Matrix<T>& b, Square<T>& a, Square<T>& work) {
    const double floor = best_lower.load();
    if (frob[job] <= floor) {
      upper[job] = frob[job];
      ++pruned;
      return;
    }
    spectrum.block(job / groups, job % groups, b);
    gram<T>(b, a);
    // Bounds on λ = σ²; a block is done once its bound on σ is ≤ the best lower bound
    // (pruned) or within the tolerance of it (settled).
    const double target =
        std::max(0.0, (floor * (1.0 + tol) - margin.absolute) / (1.0 + margin.relative));
    double g = margin.upper(std::sqrt(gram_iteration<T>(a, options.gram_steps, target * target)));
    // Is every singular value below the target? One Cholesky answers it (see cholesky_bound).
    if (g > floor * (1.0 + tol) && target > 0)
      g = std::min(g, margin.upper(std::sqrt(cholesky_bound<T>(a, target * target, work))));
    if (g <= floor) {
      upper[job] = g;
      ++pruned;
    } else if (g <= floor * (1.0 + tol)) {
      upper[job] = g;
      ++settled;
    } else {
      const double sigma = std::sqrt(std::max(0.0, double(largest_eigenvalue<T>(a))));
      upper[job] = std::min(g, margin.upper(sigma));
      lower[job] = std::max(lower[job], margin.lower(sigma));
      raise(lower[job]);
      ++resolved;
    }
  };
  // The most promising blocks first, one per thread: solved exactly, they make the best lower
  // bound exact before the others are tested against it (started together with the rest, the
  // others would test against the power-iteration estimate and fail).
  const Index first = std::min<Index>(threads, jobs);
#pragma omp parallel num_threads(threads)
  {
    Matrix<T> b;
    Square<T> a, work;
#pragma omp for schedule(static)
    for (Index r = 0; r < first; ++r) process(order[r], b, a, work);
#pragma omp for schedule(dynamic)
    for (Index r = first; r < jobs; ++r) process(order[r], b, a, work);
  }
  NormBounds out;
  out.blocks = jobs;
  out.pruned = pruned;
  out.settled = settled;
  out.resolved = resolved;
  best = 0;
  for (Index job = 1; job < jobs; ++job)
    if (lower[job] > lower[best]) best = job;
  out.lower = lower[best];
  out.upper = *std::max_element(upper.begin(), upper.end());
  out.argmax = spectrum.frequency(best / groups);
  out.argmax_group = best % groups;
  if (jobs > 0 && options.top_vector_steps > 0) {
    Matrix<T> b;
    Vector<T> v;
    spectrum.block(best / groups, best % groups, b);
    power_lower_bound<T>(b, options.top_vector_steps, v);
    out.top_vector.assign(v.data(), v.data() + v.size());
  }
  return out;
}

template RoundingMargin rounding_margin(const KernelSpectrum<float>&, Index, Index);
template RoundingMargin rounding_margin(const KernelSpectrum<double>&, Index, Index);
template std::vector<float> circular_singular_values(const KernelSpectrum<float>&,
                                                     const SpectrumOptions&);
template std::vector<double> circular_singular_values(const KernelSpectrum<double>&,
                                                      const SpectrumOptions&);
template NormBounds circular_norm_bounds(const KernelSpectrum<float>&, const NormOptions&);
template NormBounds circular_norm_bounds(const KernelSpectrum<double>&, const NormOptions&);

}  // namespace lipschitz
