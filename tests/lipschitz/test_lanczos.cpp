// Tests lanczos.hpp on explicit matrices: a lower bound always, and close to sigma_1.
#include <doctest/doctest.h>
#include <lipschitz/lanczos.hpp>

#include <Eigen/SVD>

#include <random>

using namespace lipschitz;

namespace {
struct MatrixOp {
  Eigen::MatrixXd a;
  Index input_size() const { return a.cols(); }
  Index output_size() const { return a.rows(); }
  void apply(const double* x, double* y) const {
    Eigen::Map<Eigen::VectorXd>(y, a.rows()) = a * Eigen::Map<const Eigen::VectorXd>(x, a.cols());
  }
  void apply_adjoint(const double* y, double* x) const {
    Eigen::Map<Eigen::VectorXd>(x, a.cols()) =
        a.transpose() * Eigen::Map<const Eigen::VectorXd>(y, a.rows());
  }
};
}  // namespace

TEST_CASE("Lanczos lower bound: below sigma_1, and converged on a gapped spectrum") {
  std::mt19937_64 rng(8);
  std::normal_distribution<double> normal;
  for (int trial = 0; trial < 20; ++trial) {
    MatrixOp op{Eigen::MatrixXd(40 + trial, 30)};
    for (Index i = 0; i < op.a.size(); ++i) op.a.data()[i] = normal(rng);
    const double s1 = Eigen::JacobiSVD<Eigen::MatrixXd>(op.a).singularValues()(0);
    LanczosOptions o;
    o.max_steps = 30;
    const LanczosResult r = lanczos_top_singular_value<double>(op, o);
    CHECK(r.value <= s1 * (1 + 1e-12));
    CHECK(r.value >= s1 * (1 - 1e-6));  // a full Krylov space (30) finds it
  }
  SUBCASE("a short run is still a lower bound") {
    MatrixOp op{Eigen::MatrixXd(200, 200)};
    for (Index i = 0; i < op.a.size(); ++i) op.a.data()[i] = normal(rng);
    const double s1 = Eigen::JacobiSVD<Eigen::MatrixXd>(op.a).singularValues()(0);
    LanczosOptions o;
    o.max_steps = 3;
    const LanczosResult r = lanczos_top_singular_value<double>(op, o);
    CHECK(r.value <= s1 * (1 + 1e-12));
    CHECK(r.value > 0.5 * s1);
  }
}

TEST_CASE("Lanczos on a large input: the threaded reorthogonalisation agrees and repeats") {
  // A diagonal operator of 2^16 entries (above the threading threshold of 2^15) with σ₁ = 1
  // and the rest spread over [0, 0.99]: the exact answer is known.
  struct Diagonal {
    Eigen::VectorXd d;
    Index input_size() const { return d.size(); }
    Index output_size() const { return d.size(); }
    void apply(const double* x, double* y) const {
      Eigen::Map<Eigen::VectorXd>(y, d.size()) =
          d.cwiseProduct(Eigen::Map<const Eigen::VectorXd>(x, d.size()));
    }
    void apply_adjoint(const double* y, double* x) const { apply(y, x); }
  };
  const Index n = Index(1) << 16;
  std::mt19937_64 rng(16);
  std::uniform_real_distribution<double> uniform(0.0, 0.99);
  Diagonal op{Eigen::VectorXd(n)};
  for (Index i = 0; i < n; ++i) op.d(i) = uniform(rng);
  op.d(n / 3) = 1.0;
  LanczosOptions o;
  o.max_steps = 40;
  o.tolerance = 0;  // all 40 steps: every reorthogonalisation pass is exercised
  const LanczosResult one = lanczos_top_singular_value<double>(op, o);
  o.threads = 2;
  const LanczosResult two = lanczos_top_singular_value<double>(op, o);
  const LanczosResult again = lanczos_top_singular_value<double>(op, o);
  for (const LanczosResult& r : {one, two}) {
    CHECK(r.value <= 1.0 + 1e-12);
    CHECK(r.value >= 1.0 - 1e-6);
  }
  CHECK(std::abs(two.value - one.value) <= 1e-12);
  CHECK(two.value == again.value);  // sums in thread order: the same on every run
  CHECK(two.steps == again.steps);
}
