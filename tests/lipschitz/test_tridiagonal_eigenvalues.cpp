// Tests tridiagonal_eigenvalues.hpp against the eigenvalues of the dense symmetric matrix.
#include <doctest/doctest.h>
#include <lipschitz/tridiagonal_eigenvalues.hpp>

#include <Eigen/Eigenvalues>

#include <cmath>
#include <limits>
#include <random>
#include <vector>

using namespace lipschitz;

namespace {

/// Eigenvalues of the dense symmetric matrix by Eigen's solver: an independent route (Householder
/// tridiagonalisation, then Eigen's Givens QR, not our root-free QL).
template <class R>
std::vector<double> dense_eigenvalues(const std::vector<R>& d, const std::vector<R>& e) {
  const Index n = static_cast<Index>(d.size());
  Eigen::MatrixXd t = Eigen::MatrixXd::Zero(n, n);
  for (Index i = 0; i < n; ++i) t(i, i) = double(d[static_cast<std::size_t>(i)]);
  for (Index i = 0; i + 1 < n; ++i)
    t(i, i + 1) = t(i + 1, i) = double(e[static_cast<std::size_t>(i)]);
  Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> es(t, Eigen::EigenvaluesOnly);
  return std::vector<double>(es.eigenvalues().data(), es.eigenvalues().data() + n);
}

template <class R>
void check_against_dense(const std::vector<R>& d, const std::vector<R>& e, double tol) {
  const Index n = static_cast<Index>(d.size());
  std::vector<R> got = d, work(d.size());
  REQUIRE(tridiagonal_eigenvalues(got.data(), e.data(), n, work.data()));
  const std::vector<double> want = dense_eigenvalues(d, e);
  double norm = 0;
  for (Index i = 0; i < n; ++i) {
    const double left = i > 0 ? std::abs(double(e[static_cast<std::size_t>(i - 1)])) : 0.0;
    const double right = i + 1 < n ? std::abs(double(e[static_cast<std::size_t>(i)])) : 0.0;
    norm = std::max(norm, std::abs(double(d[static_cast<std::size_t>(i)])) + left + right);
  }
  for (Index i = 0; i < n; ++i) {
    CAPTURE(i);
    CHECK(std::abs(double(got[static_cast<std::size_t>(i)]) - want[static_cast<std::size_t>(i)]) <=
          tol * std::max(norm, 1e-300));
    if (i > 0) CHECK(got[static_cast<std::size_t>(i - 1)] <= got[static_cast<std::size_t>(i)]);
  }
}

}  // namespace

TEST_CASE("tridiagonal eigenvalues equal the dense solver's, ascending, in float and double") {
  std::mt19937_64 rng(1971);
  std::normal_distribution<double> normal;
  for (int trial = 0; trial < 400; ++trial) {
    const Index n = 1 + trial % 97;
    const int kind = trial % 5;
    std::vector<double> d(static_cast<std::size_t>(n)), e(static_cast<std::size_t>(n - 1));
    for (Index i = 0; i < n; ++i)
      d[i] = kind == 1   ? 1.0                                    // repeated eigenvalues
             : kind == 2 ? normal(rng) * std::pow(10.0, -(i % 8))  // graded
             : kind == 3 ? std::abs(10.0 - double(i))              // Wilkinson W⁺: close pairs
                         : normal(rng);
    for (Index i = 0; i + 1 < n; ++i)
      e[i] = kind == 1   ? (i % 3 == 0 ? 0.0 : 1e-3)
             : kind == 3 ? 1.0
             : kind == 4 && i % 4 == 0 ? 0.0  // splits
                                       : normal(rng);
    CAPTURE(trial);
    CAPTURE(kind);
    check_against_dense(d, e, 64 * std::numeric_limits<double>::epsilon());
    const std::vector<float> df(d.begin(), d.end()), ef(e.begin(), e.end());
    check_against_dense(df, ef, 64 * std::numeric_limits<float>::epsilon());
  }
}

TEST_CASE("tridiagonal eigenvalues: zero matrix, one entry, huge and tiny scales") {
  check_against_dense(std::vector<double>{0, 0, 0}, std::vector<double>{0, 0}, 0.0);
  check_against_dense(std::vector<double>{-3.5}, std::vector<double>{}, 0.0);
  // Gram matrices of the engine are scaled to [−1, 1] first, but the routine itself should not
  // care about the scale as long as squares stay finite.
  check_against_dense(std::vector<double>{1e100, 2e100, -1e100}, std::vector<double>{3e100, 1e99},
                      64 * std::numeric_limits<double>::epsilon());
  check_against_dense(std::vector<double>{1e-100, 2e-100, -1e-100},
                      std::vector<double>{3e-100, 1e-101},
                      64 * std::numeric_limits<double>::epsilon());
}
