#pragma once
// Test helper: seeded random affine chains, and the largest Jacobian norm found by sampling
// (a lower bound on the Lipschitz constant that every certified upper bound must exceed).

#include <lipschitz/affine_chain.hpp>

#include <Eigen/SVD>

#include <random>
#include <vector>

namespace lipschitz::test {

/// A chain with the given widths (n_0 … n_m), N(0, gain²/fan_in) weights and N(0, bias²) biases.
inline AffineChain random_chain(const std::vector<Index>& widths, Activation activation,
                                double parameter, std::mt19937& rng, double gain = 1.5,
                                double bias = 0.3) {
  std::normal_distribution<double> normal(0, 1);
  AffineChain c;
  for (std::size_t k = 1; k < widths.size(); ++k) {
    Eigen::MatrixXd w(widths[k], widths[k - 1]);
    for (Index i = 0; i < w.size(); ++i) w.data()[i] = normal(rng) * gain / std::sqrt(double(widths[k - 1]));
    Eigen::VectorXd b(widths[k]);
    for (Index i = 0; i < b.size(); ++i) b(i) = normal(rng) * bias;
    c.weights.push_back(w);
    c.biases.push_back(b);
    c.names.push_back("fc" + std::to_string(k));
    if (k + 1 < widths.size()) {
      c.activations.push_back(activation);
      c.parameters.push_back(parameter);
    }
  }
  return c;
}

/// σ₁ by Jacobi SVD (relative accuracy), the reference for every norm.
inline double sigma1(const Eigen::MatrixXd& a) {
  if (a.size() == 0) return 0;
  return Eigen::JacobiSVD<Eigen::MatrixXd>(a).singularValues()(0);
}

/// max ‖J(x)‖ over `points` uniform samples of the box [lo, hi]^n_0.
inline double sampled_lipschitz(const AffineChain& c, double lo, double hi, int points,
                                std::mt19937& rng) {
  std::uniform_real_distribution<double> u(lo, hi);
  double best = 0;
  Eigen::VectorXd x(c.input_dim());
  for (int i = 0; i < points; ++i) {
    for (Index j = 0; j < x.size(); ++j) x(j) = u(rng);
    best = std::max(best, sigma1(jacobian(c, x)));
  }
  return best;
}

}  // namespace lipschitz::test
