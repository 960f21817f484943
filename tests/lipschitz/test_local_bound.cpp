// local_bound.hpp: bound propagation against sampled pre-activations and derivatives, and the
// branch and bound against sampled gradients over the box.

#include <lipschitz/local_bound.hpp>

#include <lipschitz/averaged_bound.hpp>

#include "random_chain.hpp"

#include <doctest/doctest.h>

using namespace lipschitz;
using namespace lipschitz::test;

namespace {

Box cube(Index n, double lo, double hi) {
  return Box{Eigen::VectorXd::Constant(n, lo), Eigen::VectorXd::Constant(n, hi)};
}

}  // namespace

TEST_CASE("interval bounds and local slopes contain every sampled value") {
  std::mt19937 rng(21);
  std::uniform_real_distribution<double> u(-0.5, 0.8);
  for (Activation act : {Activation::relu, Activation::leaky_relu, Activation::tanh,
                         Activation::sigmoid, Activation::softplus, Activation::elu,
                         Activation::gelu, Activation::silu}) {
    const double parameter = act == Activation::leaky_relu ? 0.2 : act == Activation::softplus ? 1.0
                             : act == Activation::elu     ? 1.0 : 0;
    const AffineChain c = random_chain({3, 12, 9, 1}, act, parameter, rng);
    const IntervalBounds ranges = propagate_intervals(c, cube(3, -0.5, 0.8));
    const NeuronSlopes slopes = local_slopes(c, ranges);
    int violations = 0;
    for (int trial = 0; trial < 2000; ++trial) {
      Eigen::VectorXd h(3);
      for (Index i = 0; i < 3; ++i) h(i) = u(rng);
      for (int k = 0; k + 1 < c.depth(); ++k) {
        h = c.weights[k] * h + c.biases[k];
        for (Index p = 0; p < h.size(); ++p) {
          const double d = activation_derivative(act, parameter, h(p));
          violations += h(p) < ranges.lower[k](p) || h(p) > ranges.upper[k](p) ||
                        d < slopes.lower[k](p) || d > slopes.upper[k](p);
          h(p) = activation_value(act, parameter, h(p));
        }
      }
    }
    INFO(to_string(act));
    CHECK(violations == 0);
  }
}

TEST_CASE("a stable box fixes every slope: the local bound is that region's Jacobian norm") {
  std::mt19937 rng(4);
  const AffineChain c = random_chain({2, 16, 16, 1}, Activation::relu, 0, rng);
  // A tiny box around a generic point lies in one linear region.
  const Eigen::VectorXd x = Eigen::VectorXd::Constant(2, 0.3);
  const Box box{x.array() - 1e-9, x.array() + 1e-9};
  const LocalBound b = local_lipschitz(c, box);
  const double j = sigma1(jacobian(c, x));
  CHECK(b.converged);
  CHECK(b.upper_bound >= j);
  CHECK(b.upper_bound <= j * (1 + 1e-8));
  CHECK(b.lower_bound <= j);
}

TEST_CASE("branch and bound over a 2-D box meets the sampled maximum within its tolerance") {
  std::mt19937 rng(8);
  for (int trial = 0; trial < 4; ++trial) {
    const Activation act = trial % 2 ? Activation::leaky_relu : Activation::relu;
    const AffineChain c = random_chain({2, 12, 12, 1}, act, 0.2, rng);
    LocalOptions options;
    options.seconds = 20;
    const LocalBound b = local_lipschitz(c, cube(2, -1, 1), options);
    const double sampled = sampled_lipschitz(c, -1, 1, 20000, rng);
    INFO("trial " << trial << ": [" << b.lower_bound << ", " << b.upper_bound << "], sampled "
                  << sampled << ", " << b.boxes << " boxes, " << b.status);
    CHECK(b.converged);
    CHECK(b.upper_bound >= sampled);
    CHECK(b.lower_bound <= b.upper_bound);
    CHECK(b.upper_bound <= (1 + options.tolerance) * b.lower_bound);
    // Over a box the local bound is never above the global averaged bound.
    CHECK(b.upper_bound <= averaged_activation_bound(c, global_slopes(c)) * (1 + 1e-12));
  }
}

TEST_CASE("branch and bound in higher dimensions stays sound at its budget") {
  std::mt19937 rng(9);
  const AffineChain c = random_chain({6, 20, 20, 1}, Activation::tanh, 0, rng);
  LocalOptions options;
  options.seconds = 0.5;
  const LocalBound b = local_lipschitz(c, cube(6, -0.5, 0.5), options);
  const double sampled = sampled_lipschitz(c, -0.5, 0.5, 5000, rng);
  INFO(b.lower_bound << " " << b.upper_bound << " " << sampled << " " << b.status);
  CHECK(b.upper_bound >= sampled);
  CHECK(b.lower_bound <= b.upper_bound);
  CHECK(b.upper_bound <= averaged_activation_bound(c, global_slopes(c)) * (1 + 1e-12));
}

TEST_CASE("local_lipschitz rejects a box that does not fit the input") {
  std::mt19937 rng(1);
  const AffineChain c = random_chain({3, 4, 1}, Activation::relu, 0, rng);
  CHECK_THROWS_WITH_AS(local_lipschitz(c, cube(2, 0, 1)),
                       "domain: expected a box of 3 coordinates (the network's input), got 2",
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(local_lipschitz(c, cube(3, 1, 0)),
                       "domain: every lower end must be finite and at most its upper end",
                       std::invalid_argument);
}
