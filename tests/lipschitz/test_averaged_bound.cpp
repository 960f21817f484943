// averaged_bound.hpp and dense_norm.hpp: the averaged-activation composition against dense
// SVDs of the composed maps, sampled Jacobians and the product bound.

#include <lipschitz/averaged_bound.hpp>
#include <lipschitz/dense_norm.hpp>

#include "random_chain.hpp"
#include "tolerances.hpp"

#include <doctest/doctest.h>

using namespace lipschitz;
using namespace lipschitz::test;

namespace {
/// A certified norm is within this of the SVD's: the Cholesky test's shift sits 1e-9 above
/// the eigenvalue (dense_norm.cpp), and the margins are ~n·ε.
constexpr double kCertifiedTol = 1e-8;
}  // namespace

TEST_CASE("certified_spectral_norm brackets the Jacobi SVD's σ₁") {
  std::mt19937 rng(11);
  std::normal_distribution<double> normal(0, 1);
  // Small Gram matrices by the eigen-solver, larger (> 192) by Lanczos.
  for (const auto& [rows, cols] : std::vector<std::pair<Index, Index>>{
           {1, 1}, {1, 40}, {40, 1}, {3, 5}, {17, 9}, {64, 64}, {128, 2}, {2, 128}, {250, 400},
           {420, 260}}) {
    Eigen::MatrixXd a(rows, cols);
    for (Index i = 0; i < a.size(); ++i) a.data()[i] = normal(rng);
    const double s = sigma1(a);
    const DenseNorm n = certified_spectral_norm(a);
    INFO(rows << "x" << cols << " σ₁ " << s << " in [" << n.lower << ", " << n.upper << "]");
    CHECK(n.lower <= s * (1 + kReferenceSlack));
    CHECK(n.upper >= s * (1 - kReferenceSlack));
    CHECK(n.upper - n.lower <= kCertifiedTol * s);
  }
  // Repeated singular values (an orthogonal matrix times 3) and the zero matrix.
  const Eigen::MatrixXd q = Eigen::HouseholderQR<Eigen::MatrixXd>(Eigen::MatrixXd::Random(30, 30)).householderQ();
  const DenseNorm n = certified_spectral_norm(3 * q);
  CHECK(n.lower <= 3.0);
  CHECK(n.upper >= 3.0);
  CHECK(n.upper <= 3.0 * (1 + kCertifiedTol));
  CHECK(certified_spectral_norm(Eigen::MatrixXd::Zero(4, 6)).upper < 1e-150);
  // A clustered top of the spectrum (σ = 3, 3, 2.9999, …) at a Lanczos size.
  Eigen::MatrixXd u = Eigen::HouseholderQR<Eigen::MatrixXd>(Eigen::MatrixXd::Random(300, 300)).householderQ();
  Eigen::VectorXd sv = Eigen::VectorXd::LinSpaced(300, 0.1, 2.9999);
  sv(299) = sv(298) = 3;
  const Eigen::MatrixXd clustered = u * sv.asDiagonal() * u.transpose();
  const DenseNorm c = certified_spectral_norm(clustered);
  CHECK(c.lower <= 3 * (1 + kReferenceSlack));
  CHECK(c.upper >= 3 * (1 - kReferenceSlack));
  CHECK(c.upper <= 3 * (1 + kCertifiedTol));
}

TEST_CASE("averaged bound: one map is its norm; fixed slopes give the composed norm") {
  std::mt19937 rng(3);
  AffineChain one = random_chain({6, 4}, Activation::relu, 0, rng);
  const double s = sigma1(one.weights[0]);
  CHECK(averaged_activation_bound(one, global_slopes(one)) >= s);
  CHECK(averaged_activation_bound(one, global_slopes(one)) <= s * (1 + kCertifiedTol));

  // LeakyReLU with slope 1 is the identity: the chain is linear, the bound ‖W₃W₂W₁‖ exactly.
  AffineChain linear = random_chain({5, 7, 6, 3}, Activation::leaky_relu, 1.0, rng);
  const double exact = sigma1(linear.weights[2] * linear.weights[1] * linear.weights[0]);
  const double bound = averaged_activation_bound(linear, global_slopes(linear));
  CHECK(bound >= exact);
  CHECK(bound <= exact * (1 + kCertifiedTol));
  // The product bound is the product of the norms.
  const double product = sigma1(linear.weights[0]) * sigma1(linear.weights[1]) * sigma1(linear.weights[2]);
  CHECK(chain_product_bound(linear, global_slopes(linear)) == doctest::Approx(product).epsilon(kCertifiedTol));

  // One ReLU: a = ½‖W₂W₁‖ + ½‖W₂‖‖W₁‖ (Combettes & Pesquet's θ₂/2).
  AffineChain two = random_chain({4, 9, 2}, Activation::relu, 0, rng);
  const double expected = 0.5 * sigma1(two.weights[1] * two.weights[0]) +
                          0.5 * sigma1(two.weights[1]) * sigma1(two.weights[0]);
  CHECK(averaged_activation_bound(two, global_slopes(two)) == doctest::Approx(expected).epsilon(kCertifiedTol));
}

TEST_CASE("averaged bound is sound and below the product on random networks") {
  std::mt19937 rng(7);
  int tighter = 0, cases = 0;
  for (Activation act : {Activation::relu, Activation::leaky_relu, Activation::tanh,
                         Activation::sigmoid, Activation::elu, Activation::gelu}) {
    for (int trial = 0; trial < 6; ++trial) {
      const double parameter = act == Activation::leaky_relu ? 0.2 : act == Activation::elu ? 1.0 : 0;
      std::vector<Index> widths{Index(2 + trial % 3)};
      for (int k = 0; k < 2 + trial % 3; ++k) widths.push_back(6 + 5 * ((trial + k) % 3));
      widths.push_back(trial % 2 ? 3 : 1);
      const AffineChain c = random_chain(widths, act, parameter, rng);
      const NeuronSlopes slopes = global_slopes(c);
      const double bound = averaged_activation_bound(c, slopes);
      const double product = chain_product_bound(c, slopes);
      const double sampled = sampled_lipschitz(c, -3, 3, 2000, rng);
      INFO(to_string(act) << " trial " << trial << ": sampled " << sampled << ", averaged "
                          << bound << ", product " << product);
      CHECK(bound >= sampled);
      CHECK(bound <= product * (1 + 1e-12));
      tighter += bound < 0.95 * product;
      ++cases;
    }
  }
  CHECK(tighter > cases / 2);  // it is a real improvement, not the product again
}

TEST_CASE("pattern_norm_bound is the Jacobian's norm on its activation pattern") {
  std::mt19937 rng(5);
  const AffineChain c = random_chain({3, 10, 8, 2}, Activation::leaky_relu, 0.1, rng);
  const Eigen::VectorXd x = Eigen::VectorXd::Random(3);
  std::vector<Eigen::VectorXd> d;
  Eigen::VectorXd h = x;
  for (int k = 0; k + 1 < c.depth(); ++k) {
    h = c.weights[k] * h + c.biases[k];
    d.emplace_back(h.size());
    for (Index p = 0; p < h.size(); ++p) {
      d[k](p) = h(p) > 0 ? 1 : 0.1;
      h(p) = activation_value(Activation::leaky_relu, 0.1, h(p));
    }
  }
  const double j = sigma1(jacobian(c, x));
  const double b = pattern_norm_bound(c, d);
  CHECK(b >= j);
  CHECK(b <= j * (1 + kCertifiedTol));
}

TEST_CASE("non-finite weights give an infinite bound") {
  std::mt19937 rng(1);
  AffineChain c = random_chain({2, 4, 1}, Activation::relu, 0, rng);
  c.weights[1](0, 2) = std::numeric_limits<double>::quiet_NaN();
  CHECK(std::isinf(averaged_activation_bound(c, global_slopes(c))));
  CHECK(std::isinf(chain_product_bound(c, global_slopes(c))));
}
