// Tests sample_quality.hpp: mode coverage, sliced Wasserstein, moments, Fréchet distance and
// Inception score against closed forms, independent routes and identities.
#include <doctest/doctest.h>
#include <gan/sample_quality.hpp>

#include <Eigen/Eigenvalues>
#include <Eigen/QR>
#include <unsupported/Eigen/MatrixFunctions>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <random>
#include <stdexcept>
#include <vector>

using namespace lipschitz::gan;
using Eigen::Index;

namespace {

constexpr double kEps = std::numeric_limits<double>::epsilon();
/// Sums and dot products of a few hundred terms: relative error a few hundred ε.
constexpr double kSumTol = 512 * kEps;
/// Through symmetric eigendecompositions and square roots of well-conditioned d ≤ 8 matrices,
/// compared with Eigen's Schur-based matrix square root: 10⁴ ε relative to tr Σ₁ + tr Σ₂.
constexpr double kEigenTol = 1e4 * kEps;
/// A singular covariance built in floating point has eigenvalues ±ε·λ_max where the truth is 0,
/// and their square roots are √ε·√λ_max: the matrix square root is only √ε-accurate there.
constexpr double kSingularTol = 64 * 1.4901161193847656e-8;  // 64·√ε
/// Monte-Carlo checks: this many standard deviations (a false alarm 1 run in ~1.7 million).
constexpr double kSigmas = 5;

Eigen::MatrixXd gaussian(Index rows, Index cols, std::mt19937_64& rng) {
  std::normal_distribution<double> normal;
  Eigen::MatrixXd m(rows, cols);
  for (Index i = 0; i < m.size(); ++i) m.data()[i] = normal(rng);
  return m;
}

Eigen::MatrixXd rotation(Index d, std::mt19937_64& rng) {
  Eigen::HouseholderQR<Eigen::MatrixXd> qr(gaussian(d, d, rng));
  return qr.householderQ();
}

// Q diag(λ) Qᵀ with λ uniform in [lo, hi].
Eigen::MatrixXd spd(Index d, double lo, double hi, std::mt19937_64& rng) {
  std::uniform_real_distribution<double> uniform(lo, hi);
  Eigen::VectorXd lambda(d);
  for (Index i = 0; i < d; ++i) lambda(i) = uniform(rng);
  const Eigen::MatrixXd q = rotation(d, rng);
  Eigen::MatrixXd s = q * lambda.asDiagonal() * q.transpose();
  return 0.5 * (s + s.transpose());
}

Moments gaussian_moments(const Eigen::VectorXd& mean, const Eigen::MatrixXd& covariance) {
  return Moments{mean, covariance};
}

// Reference FD by the route of the usual FID code: tr sqrtm(Σ₁Σ₂) of the non-symmetric product,
// with Eigen's Schur-based matrix square root.
double frechet_reference(const Moments& a, const Moments& b) {
  const Eigen::MatrixXd product = a.covariance * b.covariance;
  const Eigen::MatrixXd root = product.sqrt();
  return (a.mean - b.mean).squaredNorm() + a.covariance.trace() + b.covariance.trace() -
         2 * root.trace();
}

// Exact 1-D W₂ between uniform empirical measures of sizes n and m by a different route: each
// point of `a` repeated m times and each of `b` n times gives two equal-size samples, matched
// in sorted order.
double w2_by_replication(const std::vector<double>& a, const std::vector<double>& b) {
  std::vector<double> ra, rb;
  for (double x : a) ra.insert(ra.end(), b.size(), x);
  for (double x : b) rb.insert(rb.end(), a.size(), x);
  std::sort(ra.begin(), ra.end());
  std::sort(rb.begin(), rb.end());
  double sum = 0;
  for (std::size_t i = 0; i < ra.size(); ++i) sum += (ra[i] - rb[i]) * (ra[i] - rb[i]);
  return std::sqrt(sum / double(ra.size()));
}

Eigen::MatrixXd column(const std::vector<double>& v) {
  return Eigen::Map<const Eigen::VectorXd>(v.data(), Index(v.size()));
}

// Rows drawn from a flat Dirichlet-like law (normalised Gamma(shape)), so entries vary widely.
Eigen::MatrixXd random_probabilities(Index n, Index classes, double shape, std::mt19937_64& rng) {
  std::gamma_distribution<double> gamma(shape);
  Eigen::MatrixXd p(n, classes);
  for (Index i = 0; i < n; ++i) {
    for (Index c = 0; c < classes; ++c) p(i, c) = gamma(rng) + 1e-300;
    p.row(i) /= p.row(i).sum();
  }
  return p;
}

double entropy(const Eigen::RowVectorXd& p) {
  double h = 0;
  for (Index c = 0; c < p.size(); ++c)
    if (p(c) > 0) h -= p(c) * std::log(p(c));
  return h;
}

// n rows cycling through the K one-hot vectors: balanced as long as K divides n.
Eigen::MatrixXd one_hot_cycle(Index n, Index classes) {
  Eigen::MatrixXd p = Eigen::MatrixXd::Zero(n, classes);
  for (Index i = 0; i < n; ++i) p(i, i % classes) = 1;
  return p;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// mode_coverage

TEST_CASE("mode_coverage: hand-made samples give exact counts") {
  // Four modes on a square of side 4, σ = 0.5: the high-quality radius is 3σ = 1.5, and
  // 1.5² = 2.25 is exact in binary, so the boundary sample below sits exactly on it.
  Eigen::MatrixXd modes(4, 2);
  modes << 0, 0, 4, 0, 0, 4, 4, 4;
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double just_outside = std::nextafter(1.5, 2.0);
  Eigen::MatrixXd samples(8, 2);
  samples << 0.1, 0,    // mode 0, well inside
      1.5, 0,           // mode 0, exactly 3σ away: the boundary is inclusive
      just_outside, 0,  // mode 0, one ulp beyond 3σ: low quality
      4, 0.2,           // mode 1
      2, 2,             // equidistant (√8) from all four modes, beyond 3σ
      4.1, 4.1,         // mode 3
      nan, 0,           // non-finite: no nearest mode, low quality
      100, 100;         // far from everything
  SUBCASE("3 sigma") {
    const ModeCoverage c = mode_coverage(samples, modes, 0.5);
    CHECK(c.modes_total == 4);
    CHECK(c.modes_covered == 3);
    CHECK(c.high_quality_per_mode == std::vector<int>{2, 1, 0, 1});
    CHECK(c.high_quality_fraction == 0.5);
  }
  SUBCASE("6 sigma: the tie at (2, 2) goes to the lowest mode index") {
    const ModeCoverage c = mode_coverage(samples, modes, 0.5, 6.0);
    CHECK(c.modes_covered == 3);
    CHECK(c.high_quality_per_mode == std::vector<int>{4, 1, 0, 1});
    CHECK(c.high_quality_fraction == 0.75);
  }
  SUBCASE("one mode, one sample") {
    const ModeCoverage c = mode_coverage(Eigen::MatrixXd::Zero(1, 3), Eigen::MatrixXd::Ones(1, 3),
                                         1.0);  // distance √3 ≤ 3
    CHECK(c.modes_covered == 1);
    CHECK(c.high_quality_fraction == 1.0);
  }
}

TEST_CASE("mode_coverage: one dimension, boundary on both sides of a mode") {
  Eigen::MatrixXd modes(2, 1);
  modes << 0, 10;
  Eigen::MatrixXd samples(5, 1);
  samples << 3, -3, 3.0001, 7, 5;  // 5 is a tie (→ mode 0) and 5σ away from either
  const ModeCoverage c = mode_coverage(samples, modes, 1.0);
  CHECK(c.high_quality_per_mode == std::vector<int>{2, 1});
  CHECK(c.modes_covered == 2);
  CHECK(c.high_quality_fraction == doctest::Approx(0.6));
}

TEST_CASE("mode_coverage: samples of the WGAN-GP 8 Gaussians cover every mode") {
  // ALGORITHMS.md §7: radius 2, σ 0.02, all scaled by 1/1.414; 2,500 samples as in VEEGAN.
  const int k = 8, n = 2500;
  const double scale = 1 / 1.414, sigma = 0.02 * scale, pi = std::acos(-1.0);
  Eigen::MatrixXd modes(k, 2);
  for (int i = 0; i < k; ++i)
    modes.row(i) << 2 * scale * std::cos(2 * pi * i / k), 2 * scale * std::sin(2 * pi * i / k);
  std::mt19937_64 rng(20240601);
  std::uniform_int_distribution<int> pick(0, k - 1);
  std::normal_distribution<double> normal(0, sigma);
  Eigen::MatrixXd samples(n, 2);
  for (int i = 0; i < n; ++i) {
    const int m = pick(rng);
    samples.row(i) << modes(m, 0) + normal(rng), modes(m, 1) + normal(rng);
  }
  const ModeCoverage c = mode_coverage(samples, modes, sigma);
  CHECK(c.modes_covered == k);
  CHECK(std::accumulate(c.high_quality_per_mode.begin(), c.high_quality_per_mode.end(), 0) ==
        int(std::lround(c.high_quality_fraction * n)));
  // In 2-D, ‖x − μ‖/σ is Rayleigh: P(≤ 3) = 1 − exp(−9/2) ≈ 0.98889. Binomial error bound.
  const double p = 1 - std::exp(-4.5);
  const double tol = kSigmas * std::sqrt(p * (1 - p) / n);
  INFO(c.high_quality_fraction);
  CHECK(std::abs(c.high_quality_fraction - p) < tol);

  SUBCASE("a generator collapsed onto three modes covers three") {
    Eigen::MatrixXd collapsed(n, 2);
    for (int i = 0; i < n; ++i)
      collapsed.row(i) << modes(i % 3, 0) + normal(rng), modes(i % 3, 1) + normal(rng);
    const ModeCoverage cc = mode_coverage(collapsed, modes, sigma);
    CHECK(cc.modes_covered == 3);
    for (int m = 3; m < k; ++m) CHECK(cc.high_quality_per_mode[std::size_t(m)] == 0);
  }
  SUBCASE("samples spread far too wide are low quality") {
    const ModeCoverage cw = mode_coverage(samples * 3.0, modes, sigma);
    CHECK(cw.high_quality_fraction == 0.0);
    CHECK(cw.modes_covered == 0);
  }
}

TEST_CASE("mode_coverage: invalid input") {
  const Eigen::MatrixXd modes = Eigen::MatrixXd::Zero(2, 2);
  const Eigen::MatrixXd samples = Eigen::MatrixXd::Zero(3, 2);
  CHECK_THROWS_WITH_AS(mode_coverage(Eigen::MatrixXd(0, 2), modes, 1.0),
                       "mode_coverage: samples must be a non-empty matrix, got 0 x 2",
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(mode_coverage(samples, Eigen::MatrixXd(0, 2), 1.0),
                       "mode_coverage: modes must be a non-empty matrix, got 0 x 2",
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(
      mode_coverage(Eigen::MatrixXd::Zero(3, 3), modes, 1.0),
      "mode_coverage: samples and modes must have the same dimension, got samples 3 x 3 and "
      "modes 2 x 2",
      std::invalid_argument);
  CHECK_THROWS_WITH_AS(mode_coverage(samples, modes, 0.0),
                       "mode_coverage: sigma must be finite and > 0, got 0", std::invalid_argument);
  CHECK_THROWS_WITH_AS(mode_coverage(samples, modes, -0.5),
                       "mode_coverage: sigma must be finite and > 0, got -0.5",
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(mode_coverage(samples, modes, 1.0, std::nan("")),
                       "mode_coverage: sigmas must be finite and > 0, got nan",
                       std::invalid_argument);
  Eigen::MatrixXd bad_modes = modes;
  bad_modes(1, 0) = HUGE_VAL;
  CHECK_THROWS_WITH_AS(mode_coverage(samples, bad_modes, 1.0),
                       "mode_coverage: modes must be finite, mode 1 is not", std::invalid_argument);
}

// ---------------------------------------------------------------------------------------------
// sliced_wasserstein

TEST_CASE("sliced_wasserstein: directions are unit vectors, reproducible from the seed") {
  const Eigen::MatrixXd u = lipschitz::gan::detail::unit_directions(5, 64, 3);
  for (Index p = 0; p < u.cols(); ++p) CHECK(std::abs(u.col(p).norm() - 1) < kSumTol);
  CHECK(u == lipschitz::gan::detail::unit_directions(5, 64, 3));
  CHECK(u != lipschitz::gan::detail::unit_directions(5, 64, 4));
}

TEST_CASE("sliced_wasserstein: identities") {
  std::mt19937_64 rng(11);
  const Eigen::MatrixXd a = gaussian(60, 3, rng);
  const Eigen::MatrixXd b = (gaussian(45, 3, rng).array() + 0.7).matrix();
  CHECK(sliced_wasserstein(a, a) == 0.0);
  const double ab = sliced_wasserstein(a, b);
  CHECK(ab > 0);
  CHECK(sliced_wasserstein(b, a) == doctest::Approx(ab).epsilon(kSumTol));
  // Positive homogeneity: SW(c·a, c·b) = |c|·SW(a, b), also for c < 0 (all projections flip).
  CHECK(sliced_wasserstein(2.5 * a, 2.5 * b) == doctest::Approx(2.5 * ab).epsilon(kSumTol));
  CHECK(sliced_wasserstein(-2.5 * a, -2.5 * b) == doctest::Approx(2.5 * ab).epsilon(kSumTol));
  // The same measure at a different sample size: every point twice.
  Eigen::MatrixXd doubled(2 * a.rows(), a.cols());
  doubled << a, a;
  CHECK(sliced_wasserstein(a, doubled) == 0.0);
  // A rotation of both clouds only rotates the directions' distribution, which is invariant:
  // equal in law, so only close for a finite number of directions.
  const Eigen::MatrixXd q = rotation(3, rng);
  const double rotated = sliced_wasserstein(a * q.transpose(), b * q.transpose(), 4096);
  CHECK(rotated == doctest::Approx(sliced_wasserstein(a, b, 4096)).epsilon(0.05));
}

TEST_CASE("sliced_wasserstein: in one dimension it is the exact W2") {
  std::mt19937_64 rng(5);
  std::normal_distribution<double> normal;
  SUBCASE("equal sizes: sorted samples matched in order") {
    std::vector<double> a(100), b(100);
    for (double& x : a) x = normal(rng);
    for (double& x : b) x = 2 * normal(rng) + 1;
    std::vector<double> sa = a, sb = b;
    std::sort(sa.begin(), sa.end());
    std::sort(sb.begin(), sb.end());
    double sum = 0;
    for (std::size_t i = 0; i < sa.size(); ++i) sum += (sa[i] - sb[i]) * (sa[i] - sb[i]);
    const double w2 = std::sqrt(sum / double(sa.size()));
    // d = 1: every direction is ±1 and W2 is the same for both, whatever the count.
    CHECK(sliced_wasserstein(column(a), column(b), 1) == doctest::Approx(w2).epsilon(kSumTol));
    CHECK(sliced_wasserstein(column(a), column(b), 7, 99) == doctest::Approx(w2).epsilon(kSumTol));
  }
  SUBCASE("different sizes: against replication to a common size") {
    for (auto [n, m] : {std::pair{7, 5}, std::pair{1, 9}, std::pair{12, 18}, std::pair{64, 63}}) {
      std::vector<double> a(static_cast<std::size_t>(n)), b(static_cast<std::size_t>(m));
      for (double& x : a) x = normal(rng);
      for (double& x : b) x = normal(rng) - 0.5;
      CAPTURE(n);
      CAPTURE(m);
      CHECK(sliced_wasserstein(column(a), column(b)) ==
            doctest::Approx(w2_by_replication(a, b)).epsilon(kSumTol));
    }
  }
  SUBCASE("by hand: {0, 1} against {0, 1, 2}") {
    // Quantile pieces (0,1/3]: 0 vs 0; (1/3,1/2]: 0 vs 1; (1/2,2/3]: 1 vs 1; (2/3,1]: 1 vs 2.
    // W2² = 1/6 + 1/3 = 1/2.
    CHECK(sliced_wasserstein(column({0, 1}), column({2, 0, 1})) ==
          doctest::Approx(std::sqrt(0.5)).epsilon(kSumTol));
    CHECK(sliced_wasserstein(column({3}), column({-1})) == doctest::Approx(4).epsilon(kSumTol));
  }
}

TEST_CASE("sliced_wasserstein: a translate by t is at sqrt(mean <u, t>^2) ~ |t|/sqrt(d)") {
  std::mt19937_64 rng(17);
  for (Index d : {2, 5}) {
    CAPTURE(d);
    const Eigen::MatrixXd a = gaussian(300, d, rng);
    const Eigen::VectorXd t = 3 * gaussian(d, 1, rng);
    const Eigen::MatrixXd b = a.rowwise() + t.transpose();
    const int projections = 256;
    const std::uint64_t seed = 42;
    const double sw = sliced_wasserstein(a, b, projections, seed);
    // Exact over the same directions: the projected clouds differ by the shift ⟨u, t⟩.
    const Eigen::MatrixXd u = lipschitz::gan::detail::unit_directions(d, projections, seed);
    const double exact = std::sqrt((u.transpose() * t).squaredNorm() / projections);
    CHECK(sw == doctest::Approx(exact).epsilon(1e-9));
    // Monte Carlo over directions: E⟨u, t⟩² = ‖t‖²/d, Var(u₁²) = 2(d − 1)/(d²(d + 2)).
    const double var = 2.0 * double(d - 1) / double(d * d * (d + 2));
    const double ratio = sw * sw / t.squaredNorm();
    INFO(ratio);
    CHECK(std::abs(ratio - 1.0 / double(d)) < kSigmas * std::sqrt(var / projections));
  }
}

TEST_CASE("sliced_wasserstein: invalid and non-finite input") {
  const Eigen::MatrixXd a = Eigen::MatrixXd::Zero(4, 2);
  CHECK_THROWS_WITH_AS(sliced_wasserstein(Eigen::MatrixXd(0, 2), a),
                       "sliced_wasserstein: a must be a non-empty matrix, got 0 x 2",
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(sliced_wasserstein(a, Eigen::MatrixXd(3, 0)),
                       "sliced_wasserstein: b must be a non-empty matrix, got 3 x 0",
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(
      sliced_wasserstein(a, Eigen::MatrixXd::Zero(4, 3)),
      "sliced_wasserstein: a and b must have the same dimension, got a 4 x 2 and b 4 x 3",
      std::invalid_argument);
  CHECK_THROWS_WITH_AS(sliced_wasserstein(a, a, 0),
                       "sliced_wasserstein: projections must be >= 1, got 0",
                       std::invalid_argument);
  Eigen::MatrixXd bad = a;
  bad(2, 1) = std::nan("");
  CHECK(std::isnan(sliced_wasserstein(a, bad)));
  bad(2, 1) = -HUGE_VAL;
  CHECK(std::isnan(sliced_wasserstein(bad, a)));
}

// ---------------------------------------------------------------------------------------------
// moments

TEST_CASE("moments: by hand, and against a direct double loop") {
  Eigen::MatrixXd x(3, 2);
  x << 1, 2, 3, 6, 5, 4;
  const Moments m = moments(x);
  CHECK(m.mean == Eigen::Vector2d(3, 4));
  // Centred rows (−2,−2), (0,2), (2,0): Σ = [[8, 4], [4, 8]] / (3 − 1).
  Eigen::Matrix2d expected;
  expected << 4, 2, 2, 4;
  CHECK(m.covariance == expected);

  std::mt19937_64 rng(3);
  const Eigen::MatrixXd f = (gaussian(200, 6, rng).array() + 5).matrix();
  const Moments r = moments(f);
  CHECK(r.covariance == r.covariance.transpose());  // exactly symmetric
  for (Index i = 0; i < 6; ++i)
    for (Index j = 0; j < 6; ++j) {
      double mean_i = 0, mean_j = 0, s = 0;
      for (Index k = 0; k < f.rows(); ++k) mean_i += f(k, i), mean_j += f(k, j);
      mean_i /= double(f.rows());
      mean_j /= double(f.rows());
      for (Index k = 0; k < f.rows(); ++k) s += (f(k, i) - mean_i) * (f(k, j) - mean_j);
      s /= double(f.rows() - 1);
      CHECK(std::abs(r.covariance(i, j) - s) < kSumTol);
      if (j == 0) CHECK(r.mean(i) == doctest::Approx(mean_i).epsilon(kSumTol));
    }
  SUBCASE("two rows, one column") {
    Eigen::MatrixXd two(2, 1);
    two << 1, 3;
    const Moments t = moments(two);
    CHECK(t.mean(0) == 2);
    CHECK(t.covariance(0, 0) == 2);  // ((−1)² + 1²) / 1
  }
}

TEST_CASE("moments: invalid input") {
  CHECK_THROWS_WITH_AS(
      moments(Eigen::MatrixXd::Zero(1, 4)),
      "moments: features must have at least 2 rows for the unbiased covariance, got 1 x 4",
      std::invalid_argument);
  CHECK_THROWS_WITH_AS(moments(Eigen::MatrixXd(5, 0)),
                       "moments: features must have at least 1 column, got 5 x 0",
                       std::invalid_argument);
}

// ---------------------------------------------------------------------------------------------
// frechet_distance

TEST_CASE("frechet_distance: commuting covariances have the closed form") {
  // Σ₁ = Q diag(a) Qᵀ, Σ₂ = Q diag(b) Qᵀ: d² = ‖μ₁ − μ₂‖² + Σᵢ (√aᵢ − √bᵢ)².
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<double> uniform(0.1, 4);
  for (Index d : {1, 2, 5, 8}) {
    CAPTURE(d);
    Eigen::VectorXd a(d), b(d);
    for (Index i = 0; i < d; ++i) a(i) = uniform(rng), b(i) = uniform(rng);
    const Eigen::VectorXd mu1 = gaussian(d, 1, rng), mu2 = gaussian(d, 1, rng);
    const double expected =
        (mu1 - mu2).squaredNorm() + (a.cwiseSqrt() - b.cwiseSqrt()).squaredNorm();
    const double scale = a.sum() + b.sum() + (mu1 - mu2).squaredNorm();
    SUBCASE("diagonal") {
      const double fd = frechet_distance(gaussian_moments(mu1, a.asDiagonal().toDenseMatrix()),
                                         gaussian_moments(mu2, b.asDiagonal().toDenseMatrix()));
      INFO((fd - expected));
      CHECK(std::abs(fd - expected) < kEigenTol * scale);
    }
    SUBCASE("rotated") {
      const Eigen::MatrixXd q = rotation(d, rng);
      const double fd = frechet_distance(gaussian_moments(mu1, q * a.asDiagonal() * q.transpose()),
                                         gaussian_moments(mu2, q * b.asDiagonal() * q.transpose()));
      INFO((fd - expected));
      CHECK(std::abs(fd - expected) < kEigenTol * scale);
    }
  }
}

TEST_CASE("frechet_distance: general SPD covariances against sqrtm(S1 S2)") {
  std::mt19937_64 rng(13);
  for (Index d : {2, 3, 8}) {
    for (int trial = 0; trial < 5; ++trial) {
      CAPTURE(d);
      CAPTURE(trial);
      const Moments a = gaussian_moments(gaussian(d, 1, rng), spd(d, 0.2, 3, rng));
      const Moments b = gaussian_moments(gaussian(d, 1, rng), spd(d, 0.2, 3, rng));
      const double fd = frechet_distance(a, b);
      const double ref = frechet_reference(a, b);
      const double scale = a.covariance.trace() + b.covariance.trace();
      INFO((fd - ref));
      CHECK(std::abs(fd - ref) < kEigenTol * scale);
      // Identities: zero on itself, symmetric, invariant under a common rotation and shift.
      CHECK(frechet_distance(a, a) < kEigenTol * scale);
      CHECK(std::abs(frechet_distance(b, a) - fd) < kEigenTol * scale);
      const Eigen::MatrixXd q = rotation(d, rng);
      const Eigen::VectorXd shift = gaussian(d, 1, rng);
      const Moments qa{q * a.mean + shift, q * a.covariance * q.transpose()};
      const Moments qb{q * b.mean + shift, q * b.covariance * q.transpose()};
      CHECK(std::abs(frechet_distance(qa, qb) - fd) < kEigenTol * (scale + fd));
      // Equal covariances leave only the mean term.
      const Moments shifted{a.mean + shift, a.covariance};
      CHECK(std::abs(frechet_distance(a, shifted) - shift.squaredNorm()) <
            kEigenTol * (scale + shift.squaredNorm()));
    }
  }
}

TEST_CASE("frechet_distance: singular covariances") {
  SUBCASE("orthogonal supports: d^2 = a + b") {
    const Eigen::Vector3d zero = Eigen::Vector3d::Zero();
    const Eigen::Matrix3d s1 = Eigen::Vector3d(2, 0, 0).asDiagonal();
    const Eigen::Matrix3d s2 = Eigen::Vector3d(0, 3, 0).asDiagonal();
    CHECK(frechet_distance({zero, s1}, {zero, s2}) == doctest::Approx(5).epsilon(kSumTol));
    CHECK(frechet_distance({zero, Eigen::Matrix3d::Zero()}, {Eigen::Vector3d(1, 2, 2), s1}) ==
          doctest::Approx(9 + 2).epsilon(kSumTol));
  }
  SUBCASE("rank one along a common direction: (sqrt a - sqrt b)^2") {
    std::mt19937_64 rng(19);
    const Eigen::VectorXd u = gaussian(6, 1, rng).normalized();
    const Eigen::VectorXd zero = Eigen::VectorXd::Zero(6);
    const double fd =
        frechet_distance({zero, 4.0 * u * u.transpose()}, {zero, 9.0 * u * u.transpose()});
    INFO(fd);
    CHECK(std::abs(fd - 1.0) < kSingularTol * 13);
  }
  SUBCASE("fewer samples than features, as FID on small batches") {
    std::mt19937_64 rng(23);
    const Eigen::MatrixXd f = gaussian(4, 10, rng);  // rank-3 covariance in 10-D
    const Moments m = moments(f);
    const double scale = m.covariance.trace();
    const double self = frechet_distance(m, m);
    INFO(self);
    CHECK(std::isfinite(self));
    CHECK(self < kSingularTol * scale);
    const Eigen::RowVectorXd t = gaussian(1, 10, rng);
    const double shifted = frechet_distance(m, moments(f.rowwise() + t));
    INFO((shifted - t.squaredNorm()));
    CHECK(std::abs(shifted - t.squaredNorm()) < kSingularTol * (scale + t.squaredNorm()));
    // Doubling the features: ‖μ − 2μ‖² + tr Σ + 4 tr Σ − 2 tr (Σ^{1/2} 4Σ Σ^{1/2})^{1/2}
    // = ‖μ‖² + tr Σ.
    const double doubled = frechet_distance(m, moments(2.0 * f));
    const double expected = m.mean.squaredNorm() + scale;
    INFO((doubled - expected));
    CHECK(std::abs(doubled - expected) < kSingularTol * (5 * scale + m.mean.squaredNorm()));
  }
}

TEST_CASE("frechet_distance: invalid and non-finite input") {
  const Eigen::Vector2d mu(0, 0);
  const Eigen::Matrix2d id = Eigen::Matrix2d::Identity();
  CHECK_THROWS_WITH_AS(frechet_distance({Eigen::VectorXd(), Eigen::MatrixXd()}, {mu, id}),
                       "frechet_distance: mean of a must be non-empty", std::invalid_argument);
  CHECK_THROWS_WITH_AS(
      frechet_distance({mu, id}, {mu, Eigen::MatrixXd::Identity(2, 3)}),
      "frechet_distance: covariance of b must be 2 x 2 (the mean's length), got 2 x 3",
      std::invalid_argument);
  CHECK_THROWS_WITH_AS(
      frechet_distance({mu, id}, {Eigen::Vector3d::Zero(), Eigen::Matrix3d::Identity()}),
      "frechet_distance: a and b must have the same dimension, got 2 and 3", std::invalid_argument);
  Eigen::Matrix2d asymmetric;
  asymmetric << 1, 0.5, 0, 1;
  CHECK_THROWS_WITH_AS(frechet_distance({mu, asymmetric}, {mu, id}),
                       "frechet_distance: covariance of a must be symmetric: max |S - S^T| = "
                       "0.5, max |S| = 1",
                       std::invalid_argument);
  const Eigen::Matrix2d indefinite = Eigen::Vector2d(1, -1).asDiagonal();
  CHECK_THROWS_WITH_AS(frechet_distance({mu, id}, {mu, indefinite}),
                       "frechet_distance: covariance of b must be positive semidefinite: "
                       "smallest eigenvalue -1, largest 1",
                       std::invalid_argument);
  // Rounding-size asymmetry and negative eigenvalues are accepted.
  Eigen::Matrix2d nearly = id;
  nearly(0, 1) = 1e-12;
  CHECK(frechet_distance({mu, nearly}, {mu, id}) < 1e-12);
  CHECK(frechet_distance({mu, Eigen::Vector2d(1, -1e-14).asDiagonal()}, {mu, id}) ==
        doctest::Approx(1).epsilon(1e-6));
  // Non-finite statistics are a result (a diverged generator), not an error.
  const Eigen::Vector2d bad_mu(std::nan(""), 0);
  CHECK(std::isnan(frechet_distance({bad_mu, id}, {mu, id})));
  Eigen::Matrix2d bad_cov = id;
  bad_cov(1, 1) = HUGE_VAL;
  CHECK(std::isnan(frechet_distance({mu, id}, {mu, bad_cov})));
}

// ---------------------------------------------------------------------------------------------
// inception_score

TEST_CASE("inception_score: uniform predictions score 1, confident balanced ones score K") {
  const Index k = 10, n = 100;
  const Eigen::MatrixXd uniform = Eigen::MatrixXd::Constant(n, k, 1.0 / double(k));
  for (int splits : {1, 4, 10}) {
    CAPTURE(splits);
    const InceptionScore u = inception_score(uniform, splits);
    CHECK(u.mean == doctest::Approx(1).epsilon(kSumTol));
    CHECK(u.std < kSumTol);
    // Each split of the cycle holds every class equally often (k divides n / splits here).
    const InceptionScore c = inception_score(one_hot_cycle(n, k), splits == 4 ? 2 : splits);
    CHECK(c.mean == doctest::Approx(double(k)).epsilon(kSumTol));
    CHECK(c.std < kSumTol * double(k));
  }
  SUBCASE("one class, one row") {
    const InceptionScore s = inception_score(Eigen::MatrixXd::Ones(1, 1));
    CHECK(s.mean == 1);
    CHECK(s.std == 0);
  }
}

TEST_CASE("inception_score: against exp(H(p(y)) - E H(p(y|x)))") {
  // E_x KL(p(y|x) ‖ p(y)) = H(p(y)) − E_x H(p(y|x)): the mutual information of x and y.
  std::mt19937_64 rng(29);
  for (double shape : {0.1, 1.0, 5.0}) {
    CAPTURE(shape);
    const Index k = 7, n = 60;
    const Eigen::MatrixXd p = random_probabilities(n, k, shape, rng);
    double mean_entropy = 0;
    for (Index i = 0; i < n; ++i) mean_entropy += entropy(p.row(i));
    mean_entropy /= double(n);
    const double expected = std::exp(entropy(p.colwise().mean()) - mean_entropy);
    const InceptionScore s = inception_score(p);
    CHECK(s.mean == doctest::Approx(expected).epsilon(kSumTol));
    CHECK(s.mean >= 1 - kSumTol);
    CHECK(s.mean <= double(k) * (1 + kSumTol));
    // Relabelling the classes changes nothing.
    std::vector<Index> perm(static_cast<std::size_t>(k));
    std::iota(perm.begin(), perm.end(), Index(0));
    std::shuffle(perm.begin(), perm.end(), rng);
    Eigen::MatrixXd relabelled(n, k);
    for (Index c = 0; c < k; ++c) relabelled.col(c) = p.col(perm[std::size_t(c)]);
    CHECK(inception_score(relabelled).mean == doctest::Approx(s.mean).epsilon(kSumTol));
  }
}

TEST_CASE("inception_score: splits are scored separately, std over splits with ddof 0") {
  const Index k = 4, half = 20;
  Eigen::MatrixXd p(2 * half, k);
  p << Eigen::MatrixXd::Constant(half, k, 1.0 / double(k)), one_hot_cycle(half, k);
  const InceptionScore s = inception_score(p, 2);
  CHECK(s.mean == doctest::Approx((1.0 + double(k)) / 2).epsilon(kSumTol));
  CHECK(s.std == doctest::Approx((double(k) - 1.0) / 2).epsilon(kSumTol));
  // One split over everything: p(y) uniform, half the rows uniform (KL 0), half one-hot (KL
  // log k): IS = exp(log(k) / 2) = √k.
  CHECK(inception_score(p).mean == doctest::Approx(std::sqrt(double(k))).epsilon(kSumTol));
}

TEST_CASE("inception_score: invalid and non-finite input") {
  const Eigen::MatrixXd p = Eigen::MatrixXd::Constant(6, 3, 1.0 / 3);
  CHECK_THROWS_WITH_AS(inception_score(Eigen::MatrixXd(0, 3)),
                       "inception_score: probabilities must be a non-empty matrix, got 0 x 3",
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(inception_score(p, 0), "inception_score: splits must be >= 1, got 0",
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(inception_score(p, 4),
                       "inception_score: splits must divide the number of rows: rows = 6, "
                       "splits = 4",
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(inception_score(p, 7),
                       "inception_score: splits must divide the number of rows: rows = 6, "
                       "splits = 7",
                       std::invalid_argument);
  Eigen::MatrixXd q = p;
  q(1, 0) += 2e-6;
  CHECK_THROWS_WITH_AS(inception_score(q),
                       "inception_score: each row must sum to 1 within 1e-6, row 1 sums to "
                       "1.000002",
                       std::invalid_argument);
  q(1, 0) = p(1, 0) + 5e-7;  // within the tolerance
  CHECK(inception_score(q).mean == doctest::Approx(1).epsilon(1e-5));
  q = p;
  q.row(4) << 1.5, -0.5, 0;
  CHECK_THROWS_WITH_AS(inception_score(q),
                       "inception_score: probabilities must be >= 0, row 4 column 1 is -0.5",
                       std::invalid_argument);
  q = p;
  q(2, 2) = std::nan("");
  const InceptionScore s = inception_score(q);
  CHECK(std::isnan(s.mean));
  CHECK(std::isnan(s.std));
}
