#include <gan/sample_quality.hpp>

#include <Eigen/Eigenvalues>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <random>
#include <stdexcept>
#include <string>

namespace lipschitz::gan {

namespace {

using Index = Eigen::Index;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
/// Covariances may be asymmetric, or have negative eigenvalues, by this much relative to their
/// largest entry / eigenvalue: rounding in their construction, not a broken input.
constexpr double kCovarianceTolerance = 1e-8;
/// Rows of class probabilities must sum to 1 within this.
constexpr double kRowSumTolerance = 1e-6;

std::string num(double x) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.9g", x);
  return buf;
}

std::string shape(const Eigen::MatrixXd& m) {
  return std::to_string(m.rows()) + " x " + std::to_string(m.cols());
}

[[noreturn]] void fail(const char* function, const std::string& what) {
  throw std::invalid_argument(std::string(function) + ": " + what);
}

void require_non_empty(const char* function, const char* name, const Eigen::MatrixXd& m) {
  if (m.rows() < 1 || m.cols() < 1)
    fail(function, std::string(name) + " must be a non-empty matrix, got " + shape(m));
}

void require_positive(const char* function, const char* name, double value) {
  if (!(std::isfinite(value) && value > 0))
    fail(function, std::string(name) + " must be finite and > 0, got " + num(value));
}

// Validates one Gaussian's moments; `name` is "a" or "b".
void check_moments_shape(const Moments& m, const char* name) {
  const Index d = m.mean.size();
  if (d < 1) fail("frechet_distance", std::string("mean of ") + name + " must be non-empty");
  if (m.covariance.rows() != d || m.covariance.cols() != d)
    fail("frechet_distance", std::string("covariance of ") + name + " must be " +
                                 std::to_string(d) + " x " + std::to_string(d) +
                                 " (the mean's length), got " + shape(m.covariance));
}

bool finite(const Moments& m) { return m.mean.allFinite() && m.covariance.allFinite(); }

// Eigenvalues (ascending) and eigenvectors of a symmetric PSD covariance, after checking that
// it is symmetric and PSD up to rounding. Reports false if the eigensolver did not converge.
bool psd_eigen(const Eigen::MatrixXd& covariance, const char* name,
               Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd>& es) {
  const double scale = covariance.cwiseAbs().maxCoeff();
  const double asymmetry = (covariance - covariance.transpose()).cwiseAbs().maxCoeff();
  if (asymmetry > kCovarianceTolerance * scale)
    fail("frechet_distance", std::string("covariance of ") + name +
                                 " must be symmetric: max |S - S^T| = " + num(asymmetry) +
                                 ", max |S| = " + num(scale));
  // Only the lower triangle is read; the check above makes the choice immaterial.
  es.compute(covariance, Eigen::ComputeEigenvectors);
  if (es.info() != Eigen::Success) return false;
  const Eigen::VectorXd& lambda = es.eigenvalues();
  const double top = lambda.cwiseAbs().maxCoeff();
  if (lambda(0) < -kCovarianceTolerance * top)
    fail("frechet_distance", std::string("covariance of ") + name +
                                 " must be positive semidefinite: smallest eigenvalue " +
                                 num(lambda(0)) + ", largest " + num(lambda(lambda.size() - 1)));
  return true;
}

}  // namespace

ModeCoverage mode_coverage(const Eigen::MatrixXd& samples, const Eigen::MatrixXd& modes,
                           double sigma, double sigmas) {
  constexpr const char* kFn = "mode_coverage";
  require_non_empty(kFn, "samples", samples);
  require_non_empty(kFn, "modes", modes);
  if (samples.cols() != modes.cols())
    fail(kFn, "samples and modes must have the same dimension, got samples " + shape(samples) +
                  " and modes " + shape(modes));
  require_positive(kFn, "sigma", sigma);
  require_positive(kFn, "sigmas", sigmas);
  for (Index k = 0; k < modes.rows(); ++k)
    if (!modes.row(k).allFinite())
      fail(kFn, "modes must be finite, mode " + std::to_string(k) + " is not");

  ModeCoverage c;
  c.modes_total = int(modes.rows());
  c.high_quality_per_mode.assign(std::size_t(modes.rows()), 0);
  // Squared distances against the squared radius: a sample exactly sigmas·σ away is kept.
  const double radius = sigmas * sigma;
  const double radius2 = radius * radius;
  Index high_quality = 0;
  for (Index i = 0; i < samples.rows(); ++i) {
    // Strict `<` keeps the lower index on ties; a NaN or infinite distance never wins, so a
    // non-finite sample has no nearest mode (nearest stays −1) and is low quality.
    Index nearest = -1;
    double best = std::numeric_limits<double>::infinity();
    for (Index k = 0; k < modes.rows(); ++k) {
      const double d2 = (samples.row(i) - modes.row(k)).squaredNorm();
      if (d2 < best) {
        best = d2;
        nearest = k;
      }
    }
    if (nearest >= 0 && best <= radius2) {
      ++high_quality;
      ++c.high_quality_per_mode[std::size_t(nearest)];
    }
  }
  c.modes_covered = int(std::count_if(c.high_quality_per_mode.begin(),
                                      c.high_quality_per_mode.end(), [](int n) { return n > 0; }));
  c.high_quality_fraction = double(high_quality) / double(samples.rows());
  return c;
}

namespace detail {

Eigen::MatrixXd unit_directions(Index dim, int projections, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal;
  Eigen::MatrixXd u(dim, projections);
  for (int p = 0; p < projections; ++p) {
    // A standard Gaussian vector, normalised, is uniform on the sphere; redraw the (measure
    // zero, but possible in floating point) zero vector.
    double norm = 0;
    while (norm == 0) {
      for (Index i = 0; i < dim; ++i) u(i, p) = normal(rng);
      norm = u.col(p).norm();
    }
    u.col(p) /= norm;
  }
  return u;
}

double sorted_w2_squared(const double* a, Index n, const double* b, Index m) {
  // The quantile functions are step functions: F_a⁻¹(t) = a[i] on (i/n, (i+1)/n]. Measured in
  // units of 1/(n·m), the steps of a end at (i+1)·m and those of b at (j+1)·n, so the merged
  // grid is walked in exact integer arithmetic, one piece per distinct breakpoint
  // (n + m − gcd(n, m) pieces).
  const std::int64_t nm = std::int64_t(n) * std::int64_t(m);
  std::int64_t position = 0;
  Index i = 0, j = 0;
  double sum = 0;
  while (position < nm) {
    const std::int64_t end_a = std::int64_t(i + 1) * m;
    const std::int64_t end_b = std::int64_t(j + 1) * n;
    const std::int64_t end = std::min(end_a, end_b);
    const double diff = a[i] - b[j];
    sum += double(end - position) * diff * diff;
    position = end;
    if (end == end_a) ++i;
    if (end == end_b) ++j;
  }
  return sum / double(nm);
}

}  // namespace detail

double sliced_wasserstein(const Eigen::MatrixXd& a, const Eigen::MatrixXd& b, int projections,
                          std::uint64_t seed) {
  constexpr const char* kFn = "sliced_wasserstein";
  require_non_empty(kFn, "a", a);
  require_non_empty(kFn, "b", b);
  if (a.cols() != b.cols())
    fail(kFn, "a and b must have the same dimension, got a " + shape(a) + " and b " + shape(b));
  if (projections < 1) fail(kFn, "projections must be >= 1, got " + std::to_string(projections));
  // Sorting NaN breaks std::sort's strict weak ordering: decide before projecting.
  if (!a.allFinite() || !b.allFinite()) return kNaN;

  const Eigen::MatrixXd u = detail::unit_directions(a.cols(), projections, seed);
  Eigen::VectorXd pa(a.rows()), pb(b.rows());
  double sum = 0;
  for (int p = 0; p < projections; ++p) {
    pa.noalias() = a * u.col(p);
    pb.noalias() = b * u.col(p);
    std::sort(pa.data(), pa.data() + pa.size());
    std::sort(pb.data(), pb.data() + pb.size());
    sum += detail::sorted_w2_squared(pa.data(), pa.size(), pb.data(), pb.size());
  }
  return std::sqrt(sum / projections);
}

Moments moments(const Eigen::MatrixXd& features) {
  constexpr const char* kFn = "moments";
  if (features.cols() < 1)
    fail(kFn, "features must have at least 1 column, got " + shape(features));
  if (features.rows() < 2)
    fail(kFn,
         "features must have at least 2 rows for the unbiased covariance, got " + shape(features));
  const Index n = features.rows(), d = features.cols();
  Moments m;
  m.mean = features.colwise().mean().transpose();
  const Eigen::MatrixXd centered = features.rowwise() - m.mean.transpose();
  // One triangle by a rank-n update, then mirrored: exactly symmetric, unlike a general GEMM.
  Eigen::MatrixXd lower = Eigen::MatrixXd::Zero(d, d);
  lower.selfadjointView<Eigen::Lower>().rankUpdate(centered.transpose(), 1.0 / double(n - 1));
  m.covariance = lower.selfadjointView<Eigen::Lower>();
  return m;
}

double frechet_distance(const Moments& a, const Moments& b) {
  check_moments_shape(a, "a");
  check_moments_shape(b, "b");
  if (a.mean.size() != b.mean.size())
    fail("frechet_distance", "a and b must have the same dimension, got " +
                                 std::to_string(a.mean.size()) + " and " +
                                 std::to_string(b.mean.size()));
  if (!finite(a) || !finite(b)) return kNaN;

  Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> ea, eb;
  if (!psd_eigen(a.covariance, "a", ea) || !psd_eigen(b.covariance, "b", eb)) return kNaN;
  // Rounding leaves eigenvalues of a singular covariance at ±ε·λ_max: clamp them to 0 so the
  // square root exists; the formula is then evaluated on the PSD parts of the inputs.
  const Eigen::VectorXd la = ea.eigenvalues().cwiseMax(0.0);
  const Eigen::VectorXd lb = eb.eigenvalues().cwiseMax(0.0);
  const Eigen::MatrixXd sqrt_a =
      ea.eigenvectors() * la.cwiseSqrt().asDiagonal() * ea.eigenvectors().transpose();
  const Eigen::MatrixXd cov_b = eb.eigenvectors() * lb.asDiagonal() * eb.eigenvectors().transpose();
  // tr (Σ₁^{1/2} Σ₂ Σ₁^{1/2})^{1/2}: the middle matrix is symmetric PSD (a congruence of Σ₂), so
  // its square root's trace is Σ √μ over its eigenvalues. scipy.linalg.sqrtm(Σ₁Σ₂), the usual
  // FID code, has the same eigenvalues but is not symmetric, and returns complex rounding noise
  // when Σ₁Σ₂ is singular; this route does not.
  Eigen::MatrixXd middle = sqrt_a * cov_b * sqrt_a;
  middle = 0.5 * (middle + middle.transpose()).eval();
  Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> em(middle, Eigen::EigenvaluesOnly);
  if (em.info() != Eigen::Success) return kNaN;
  const double trace_sqrt = em.eigenvalues().cwiseMax(0.0).cwiseSqrt().sum();
  // Heusel et al. 2017, eq. (6).
  const double d2 = (a.mean - b.mean).squaredNorm() + la.sum() + lb.sum() - 2.0 * trace_sqrt;
  // The exact value is a squared Wasserstein distance, ≥ 0; only rounding makes it negative.
  return std::max(d2, 0.0);
}

InceptionScore inception_score(const Eigen::MatrixXd& probabilities, int splits) {
  constexpr const char* kFn = "inception_score";
  require_non_empty(kFn, "probabilities", probabilities);
  if (splits < 1) fail(kFn, "splits must be >= 1, got " + std::to_string(splits));
  const Index n = probabilities.rows(), classes = probabilities.cols();
  if (n % splits != 0)
    fail(kFn, "splits must divide the number of rows: rows = " + std::to_string(n) +
                  ", splits = " + std::to_string(splits));
  if (!probabilities.allFinite()) return {kNaN, kNaN};
  for (Index i = 0; i < n; ++i) {
    for (Index c = 0; c < classes; ++c)
      if (probabilities(i, c) < 0)
        fail(kFn, "probabilities must be >= 0, row " + std::to_string(i) + " column " +
                      std::to_string(c) + " is " + num(probabilities(i, c)));
    const double sum = probabilities.row(i).sum();
    if (std::abs(sum - 1.0) > kRowSumTolerance)
      fail(kFn,
           "each row must sum to 1 within 1e-6, row " + std::to_string(i) + " sums to " + num(sum));
  }

  const Index per_split = n / splits;
  std::vector<double> scores(std::size_t(splits), 0.0);
  for (int s = 0; s < splits; ++s) {
    const auto part = probabilities.middleRows(s * per_split, per_split);
    const Eigen::RowVectorXd marginal = part.colwise().mean();  // p(y) over this split
    double kl = 0;  // Σ_x KL(p(y|x) ‖ p(y)), with 0·log 0 = 0
    for (Index i = 0; i < per_split; ++i)
      for (Index c = 0; c < classes; ++c) {
        const double p = part(i, c);
        // p(y|x) > 0 implies p(y) > 0 unless the mean of subnormals underflowed to 0: skip
        // those terms (each is below 1e-300) rather than return ∞.
        if (p > 0 && marginal(c) > 0) kl += p * std::log(p / marginal(c));
      }
    scores[std::size_t(s)] = std::exp(kl / double(per_split));  // Salimans et al. 2016, §4
  }
  InceptionScore result;
  for (double v : scores) result.mean += v;
  result.mean /= splits;
  double var = 0;
  for (double v : scores) var += (v - result.mean) * (v - result.mean);
  result.std = std::sqrt(var / splits);
  return result;
}

}  // namespace lipschitz::gan
