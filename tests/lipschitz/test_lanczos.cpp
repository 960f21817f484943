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
