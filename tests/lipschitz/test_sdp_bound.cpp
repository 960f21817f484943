// LipSDP-Neuron and the ECLipsE-Fast-style elimination (sdp_bound.hpp) with their LMI certificate (lmi_certificate.hpp), against exact and sampled Lipschitz constants.

#include <lipschitz/lmi_certificate.hpp>
#include <lipschitz/sdp_bound.hpp>

#include "tolerances.hpp"

#include <doctest/doctest.h>

#include <Eigen/LU>
#include <Eigen/SVD>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

using namespace lipschitz;
using namespace lipschitz::test;

namespace {

/// LipSDP's value on a linear chain, where its infimum is the exact ‖W_2W_1‖ but is only
/// approached as the multipliers grow without bound.
constexpr double kLinearTol = 1e-4;
/// LipSDP against ECLipsE-Fast: both certify points of the same LMI; the SDP's optimum is the
/// smaller up to the strictness margin and the inflation of the certificate.
constexpr double kSdpVsFastTol = 1e-6;
/// Certified bounds against the product of the layer norms (computed by SVD, ~1e-15).
constexpr double kProductSlack = 1e-9;
constexpr double kPi = 3.14159265358979323846;

double sigma1(const Eigen::MatrixXd& a) {
  if (a.size() == 0) return 0;
  return Eigen::JacobiSVD<Eigen::MatrixXd>(a).singularValues()(0);
}

Eigen::MatrixXd gaussian(Index rows, Index cols, double stddev, std::mt19937& rng) {
  std::normal_distribution<double> normal(0.0, stddev);
  Eigen::MatrixXd a(rows, cols);
  for (Index j = 0; j < cols; ++j)
    for (Index i = 0; i < rows; ++i) a(i, j) = normal(rng);
  return a;
}

/// dims = (n_0, …, n_m); weights ~ N(0, 1/fan_in)·gain, biases ~ N(0, 1/4).
AffineChain random_chain(const std::vector<Index>& dims, Activation activation, double parameter,
                         double gain, std::mt19937& rng) {
  AffineChain chain;
  for (std::size_t k = 1; k < dims.size(); ++k) {
    chain.weights.push_back(gaussian(dims[k], dims[k - 1], gain / std::sqrt(double(dims[k - 1])), rng));
    chain.biases.push_back(gaussian(dims[k], 1, 0.5, rng).col(0));
    chain.names.push_back("fc" + std::to_string(k));
    if (k + 1 < dims.size()) {
      chain.activations.push_back(activation);
      chain.parameters.push_back(parameter);
    }
  }
  return chain;
}

/// Every neuron with slopes [lower, upper].
NeuronSlopes uniform_slopes(const AffineChain& chain, double lower, double upper) {
  NeuronSlopes s;
  for (int k = 0; k + 1 < chain.depth(); ++k) {
    const Index n = chain.weights[static_cast<std::size_t>(k)].rows();
    s.lower.push_back(Eigen::VectorXd::Constant(n, lower));
    s.upper.push_back(Eigen::VectorXd::Constant(n, upper));
  }
  return s;
}

/// LeakyReLU(a) (ReLU for a = 0) and its derivative, as autograd takes it at 0.
double leaky(double a, double v) { return v > 0 ? v : a * v; }
double leaky_derivative(double a, double v) { return v > 0 ? 1.0 : a; }

/// The Jacobian at x of a chain of (Leaky)ReLU layers, written out here (independent of
/// affine_chain.cpp).
Eigen::MatrixXd local_jacobian(const AffineChain& chain, const Eigen::VectorXd& x) {
  Eigen::VectorXd h = x;
  Eigen::MatrixXd j = Eigen::MatrixXd::Identity(x.size(), x.size());
  for (std::size_t k = 0; k + 1 < chain.weights.size(); ++k) {
    const double a = chain.activations[k] == Activation::relu ? 0.0 : chain.parameters[k];
    const Eigen::VectorXd v = chain.weights[k] * h + chain.biases[k];
    Eigen::VectorXd d(v.size());
    h.resize(v.size());
    for (Index p = 0; p < v.size(); ++p) {
      d(p) = leaky_derivative(a, v(p));
      h(p) = leaky(a, v(p));
    }
    j = d.asDiagonal() * (chain.weights[k] * j);
  }
  return chain.weights.back() * j;
}

/// max ‖J(x)‖₂ over `count` random inputs at a few scales: a lower bound on Lip₂(f).
double sampled_lower_bound(const AffineChain& chain, int count, std::mt19937& rng) {
  std::normal_distribution<double> normal;
  const double scales[] = {0.3, 1.0, 3.0, 10.0};
  double best = 0;
  for (int s = 0; s < count; ++s) {
    Eigen::VectorXd x(chain.input_dim());
    for (Index i = 0; i < x.size(); ++i) x(i) = scales[s % 4] * normal(rng);
    best = std::max(best, sigma1(local_jacobian(chain, x)));
  }
  return best;
}

/// Π ‖W_i‖ · Π max slope: the plain bound.
double product_bound(const AffineChain& chain, double max_slope) {
  double p = 1;
  for (const Eigen::MatrixXd& w : chain.weights) p *= sigma1(w);
  return p * std::pow(max_slope, chain.depth() - 1);
}

/// The quadratic form of lmi_certificate.hpp, term by term.
double quadratic_form(const AffineChain& chain, const NeuronSlopes& slopes,
                      const std::vector<Eigen::VectorXd>& t, double rho, const Eigen::VectorXd& z) {
  const int m = chain.depth();
  std::vector<Eigen::VectorXd> x;
  Index offset = 0;
  for (int i = 0; i < m; ++i) {
    const Index n = chain.weights[static_cast<std::size_t>(i)].cols();
    x.push_back(z.segment(offset, n));
    offset += n;
  }
  double q = (chain.weights.back() * x.back()).squaredNorm() - rho * x.front().squaredNorm();
  for (std::size_t i = 1; i < x.size(); ++i) {
    const Eigen::VectorXd v = chain.weights[i - 1] * x[i - 1];
    for (Index p = 0; p < v.size(); ++p) {
      const double a = slopes.lower[i - 1](p), b = slopes.upper[i - 1](p);
      q += t[i - 1](p) * (x[i](p) - a * v(p)) * (b * v(p) - x[i](p));
    }
  }
  return q;
}

void check_bounds(const SdpBound& r, double lower, double product) {
  INFO(r.method << ": " << r.status);
  CHECK(r.certified);
  CHECK(r.upper_bound >= lower * (1 - kReferenceSlack));
  CHECK(r.upper_bound <= product * (1 + kProductSlack));
}

}  // namespace

TEST_CASE("lipsdp_matrix is the quadratic form Q(z) term by term") {
  std::mt19937 rng(11);
  const AffineChain chain = random_chain({3, 5, 4, 2}, Activation::leaky_relu, 0.1, 1.0, rng);
  NeuronSlopes slopes = uniform_slopes(chain, 0.1, 1.0);
  slopes.lower[1](2) = -0.3;  // per-neuron ranges, one with α·β < 0
  std::vector<Eigen::VectorXd> t;
  for (const Eigen::VectorXd& l : slopes.lower) t.push_back(gaussian(l.size(), 1, 1.0, rng).col(0).cwiseAbs());
  const Eigen::MatrixXd m = lipsdp_matrix(chain, slopes, t, 1.7);
  REQUIRE(m.rows() == lipsdp_dimension(chain));
  CHECK(lipsdp_dimension(chain) == 3 + 5 + 4);
  CHECK((m - m.transpose()).norm() == 0);
  for (int trial = 0; trial < 5; ++trial) {
    const Eigen::VectorXd z = gaussian(m.rows(), 1, 1.0, rng).col(0);
    const double q = quadratic_form(chain, slopes, t, 1.7, z);
    CHECK(z.dot(m * z) == doctest::Approx(q).epsilon(1e-12));
  }
}

TEST_CASE("the check is tight to rounding: depth 1, M = W_1ᵀW_1 − ρI") {
  std::mt19937 rng(7);
  for (const Index n : {1, 4, 30}) {
    CAPTURE(n);
    const AffineChain chain = random_chain({n, n + 2}, Activation::relu, 0, 1.0, rng);
    const double s2 = std::pow(sigma1(chain.weights[0]), 2);
    CHECK(certify_lipsdp(chain, NeuronSlopes{}, {}, s2 * (1 + 1e-9)));
    CHECK_FALSE(certify_lipsdp(chain, NeuronSlopes{}, {}, s2 * (1 - 1e-9)));
    const double rho = certified_rho(chain, NeuronSlopes{}, {}, s2);
    CHECK(rho >= s2);
    CHECK(rho <= s2 * (1 + 1e-9));
  }
}

TEST_CASE("linear chains: LipSDP is the norm of the product") {
  std::mt19937 rng(1);
  SUBCASE("depth 1: M = W_1ᵀW_1 − ρI") {
    const AffineChain chain = random_chain({5, 3}, Activation::relu, 0, 1.0, rng);
    const double exact = sigma1(chain.weights[0]);
    const SdpBound sdp = lipsdp_neuron(chain, NeuronSlopes{});
    INFO(sdp.status);
    CHECK(sdp.certified);
    CHECK(sdp.upper_bound >= exact * (1 - kReferenceSlack));
    CHECK(sdp.upper_bound <= exact * (1 + kLinearTol));
    CHECK(sdp.multipliers.empty());
    const SdpBound fast = eclipse_fast(chain, NeuronSlopes{});
    CHECK(fast.certified);
    CHECK(fast.upper_bound >= exact * (1 - kReferenceSlack));
    CHECK(fast.upper_bound <= exact * (1 + kSdpVsFastTol));
  }
  SUBCASE("depth 2 with identity slopes α = β = 1") {
    const AffineChain chain = random_chain({4, 6, 3}, Activation::leaky_relu, 1.0, 1.5, rng);
    const NeuronSlopes slopes = uniform_slopes(chain, 1.0, 1.0);
    const double exact = sigma1(chain.weights[1] * chain.weights[0]);
    const SdpBound sdp = lipsdp_neuron(chain, slopes);
    INFO(sdp.status);
    CHECK(sdp.certified);
    CHECK(sdp.upper_bound >= exact * (1 - kReferenceSlack));
    CHECK(sdp.upper_bound <= exact * (1 + kLinearTol));
    const SdpBound fast = eclipse_fast(chain, slopes);
    INFO(fast.status);
    CHECK(fast.certified);
    CHECK(fast.upper_bound >= exact * (1 - kReferenceSlack));
  }
}

TEST_CASE("random ReLU and LeakyReLU MLPs: sampled ≤ LipSDP ≤ ECLipsE-Fast ≤ product") {
  std::mt19937 rng(2);
  std::uniform_int_distribution<int> inputs(2, 8), depth(2, 4), width(3, 20);
  int trial = 0;
  for (const double leak : {0.0, 0.1})
    for (const Index outputs : {1, 3})
      for (int repeat = 0; repeat < 5; ++repeat, ++trial) {
        std::vector<Index> dims{inputs(rng)};
        const int hidden = depth(rng);
        for (int k = 0; k < hidden; ++k) dims.push_back(width(rng));
        dims.push_back(outputs);
        const Activation act = leak == 0 ? Activation::relu : Activation::leaky_relu;
        const AffineChain chain = random_chain(dims, act, leak, 1.5, rng);
        const NeuronSlopes slopes = uniform_slopes(chain, leak, 1.0);
        CAPTURE(trial);
        CAPTURE(dims.size());
        const double lower = sampled_lower_bound(chain, 2000, rng);
        const double product = product_bound(chain, 1.0);
        const SdpBound sdp = lipsdp_neuron(chain, slopes);
        const SdpBound fast = eclipse_fast(chain, slopes);
        check_bounds(sdp, lower, product);
        check_bounds(fast, lower, product);
        INFO("lipsdp " << sdp.upper_bound << ", eclipse " << fast.upper_bound << ", lower " << lower);
        CHECK(sdp.upper_bound <= fast.upper_bound * (1 + kSdpVsFastTol));
        // The reported point is what was certified.
        CHECK(certify_lipsdp(chain, slopes, sdp.multipliers, sdp.rho));
        CHECK(certify_lipsdp(chain, slopes, fast.multipliers, fast.rho));
        CHECK(sdp.upper_bound >= std::sqrt(sdp.rho));
        CHECK(sdp.upper_bound * (1 - 1e-15) <= std::sqrt(sdp.rho));
      }
}

TEST_CASE("slopes with α·β < 0 (GELU's range): above every linearisation with slopes at the ends") {
  std::mt19937 rng(6);
  const AffineChain chain = random_chain({3, 10, 8, 2}, Activation::gelu, 0, 1.2, rng);
  const NeuronSlopes slopes = uniform_slopes(chain, -0.17, 1.13);
  const SdpBound sdp = lipsdp_neuron(chain, slopes);
  const SdpBound fast = eclipse_fast(chain, slopes);
  INFO(sdp.status);
  INFO(fast.status);
  REQUIRE(sdp.certified);
  REQUIRE(fast.certified);
  CHECK(sdp.upper_bound <= fast.upper_bound * (1 + kSdpVsFastTol));
  // A linear activation of slope d ∈ [α, β] obeys the same restriction, so the bound covers
  // ‖W_3 D_2 W_2 D_1 W_1‖ for every such diagonal D_i.
  std::bernoulli_distribution coin;
  double lower = 0;
  for (int trial = 0; trial < 500; ++trial) {
    Eigen::MatrixXd j = chain.weights[0];
    for (std::size_t k = 1; k < chain.weights.size(); ++k) {
      Eigen::VectorXd d(j.rows());
      for (Index p = 0; p < d.size(); ++p) d(p) = coin(rng) ? -0.17 : 1.13;
      j = chain.weights[k] * d.asDiagonal() * j;
    }
    lower = std::max(lower, sigma1(j));
  }
  CHECK(sdp.upper_bound >= lower * (1 - kReferenceSlack));
  CHECK(fast.upper_bound >= lower * (1 - kReferenceSlack));
  CHECK(sdp.upper_bound <= product_bound(chain, 1.13) * (1 + kProductSlack));
}

TEST_CASE("the certificate rejects ρ below the optimum and negative multipliers") {
  std::mt19937 rng(3);
  const AffineChain chain = random_chain({4, 12, 10, 2}, Activation::relu, 0, 1.5, rng);
  const NeuronSlopes slopes = uniform_slopes(chain, 0.0, 1.0);
  const SdpBound sdp = lipsdp_neuron(chain, slopes);
  INFO(sdp.status);
  REQUIRE(sdp.certified);
  const double rho = sdp.rho;
  CHECK(certify_lipsdp(chain, slopes, sdp.multipliers, rho));
  CHECK_FALSE(certify_lipsdp(chain, slopes, sdp.multipliers, 0.99 * rho));
  CHECK(certify_lipsdp(chain, slopes, sdp.multipliers, 1.01 * rho));
  // No multipliers at all (T = 0) certify nothing for a network that depends on its input.
  std::vector<Eigen::VectorXd> zero = sdp.multipliers;
  for (Eigen::VectorXd& v : zero) v.setZero();
  CHECK_FALSE(certify_lipsdp(chain, slopes, zero, 100 * rho));
  // A negative multiplier is rejected, however large ρ (it would make the bound unsound).
  std::vector<Eigen::VectorXd> negative = sdp.multipliers;
  negative[1](3) = -1e-3;
  CHECK_FALSE(certify_lipsdp(chain, slopes, negative, 10 * rho));
  CHECK(std::isinf(certified_rho(chain, slopes, negative, rho)));
  std::vector<Eigen::VectorXd> nan = sdp.multipliers;
  nan[0](0) = std::nan("");
  CHECK_FALSE(certify_lipsdp(chain, slopes, nan, 10 * rho));
  CHECK_FALSE(certify_lipsdp(chain, slopes, sdp.multipliers, std::nan("")));
  CHECK_FALSE(certify_lipsdp(chain, slopes, sdp.multipliers, -rho));
  // Slopes outside the ones certified: the same point fails for a steeper activation.
  CHECK_FALSE(certify_lipsdp(chain, uniform_slopes(chain, 0.0, 2.0), sdp.multipliers, 1.01 * rho));
  // The inflation search lands between the optimum and the solver's point.
  const double found = certified_rho(chain, slopes, sdp.multipliers, 0.999 * rho);
  CHECK(found <= rho * (1 + 2e-3));  // δ doubles per step
  CHECK(certify_lipsdp(chain, slopes, sdp.multipliers, found));
  CHECK(found > 0.99 * rho);
}

TEST_CASE("a 2-input one-hidden-layer ReLU net: bounds above the exact constant of its arrangement") {
  std::mt19937 rng(4);
  for (int trial = 0; trial < 3; ++trial) {
    CAPTURE(trial);
    const Index hidden = 6 + 2 * trial;
    const AffineChain chain = random_chain({2, hidden, 1}, Activation::relu, 0, 1.5, rng);
    const Eigen::MatrixXd& w = chain.weights[0];
    const Eigen::VectorXd& b = chain.biases[0];
    // Candidate points: every vertex of the line arrangement w_pᵀx + b_p = 0 with tiny offsets
    // in 8 directions (every bounded region has a vertex), and far points in many directions
    // (every unbounded region).
    std::vector<Eigen::Vector2d> points;
    for (Index p = 0; p < hidden; ++p)
      for (Index q = p + 1; q < hidden; ++q) {
        Eigen::Matrix2d a;
        a << w.row(p), w.row(q);
        if (std::abs(a.determinant()) < 1e-12) continue;
        const Eigen::Vector2d vertex = a.inverse() * -Eigen::Vector2d(b(p), b(q));
        for (int k = 0; k < 8; ++k) {
          const double angle = (k + 0.5) * kPi / 4;
          points.push_back(vertex + 1e-7 * Eigen::Vector2d(std::cos(angle), std::sin(angle)));
        }
      }
    for (int k = 0; k < 3600; ++k) {
      const double angle = 2 * kPi * (k + 0.5) / 3600;
      points.push_back(1e6 * Eigen::Vector2d(std::cos(angle), std::sin(angle)));
    }
    double exact = 0;
    for (const Eigen::Vector2d& x : points) exact = std::max(exact, local_jacobian(chain, x).norm());
    // Random sampling never beats the enumeration: it found every region that matters.
    CHECK(sampled_lower_bound(chain, 4000, rng) <= exact * (1 + 1e-12));
    const NeuronSlopes slopes = uniform_slopes(chain, 0.0, 1.0);
    const SdpBound sdp = lipsdp_neuron(chain, slopes);
    const SdpBound fast = eclipse_fast(chain, slopes);
    INFO("exact " << exact << ", lipsdp " << sdp.upper_bound << ", eclipse " << fast.upper_bound);
    CHECK(sdp.certified);
    CHECK(fast.certified);
    CHECK(sdp.upper_bound >= exact * (1 - kReferenceSlack));
    CHECK(fast.upper_bound >= exact * (1 - kReferenceSlack));
    CHECK(sdp.upper_bound <= fast.upper_bound * (1 + kSdpVsFastTol));
  }
}

TEST_CASE("edge cases: zero weights, NaN weights, refusal, sizes") {
  std::mt19937 rng(5);
  AffineChain chain = random_chain({3, 4, 2}, Activation::relu, 0, 1.0, rng);
  const NeuronSlopes slopes = uniform_slopes(chain, 0.0, 1.0);
  SUBCASE("a zero layer makes f constant") {
    chain.weights[1].setZero();
    const SdpBound sdp = lipsdp_neuron(chain, slopes);
    CHECK(sdp.certified);
    CHECK(sdp.upper_bound == 0);
    CHECK(eclipse_fast(chain, slopes).upper_bound == 0);
  }
  SUBCASE("NaN weights are a result, not an exception") {
    chain.weights[0](1, 1) = std::nan("");
    const SdpBound sdp = lipsdp_neuron(chain, slopes);
    CHECK_FALSE(sdp.certified);
    CHECK(std::isinf(sdp.upper_bound));
    CHECK(sdp.status == "non-finite weights in W_1");
    CHECK_FALSE(eclipse_fast(chain, slopes).certified);
  }
  SUBCASE("too large an LMI is refused") {
    SdpOptions options;
    options.max_lmi_size = 6;
    const SdpBound sdp = lipsdp_neuron(chain, slopes, options);
    CHECK_FALSE(sdp.certified);
    CHECK(sdp.status == "refused: LMI dimension 7 exceeds max_lmi_size = 6");
  }
  SUBCASE("mismatched sizes throw") {
    NeuronSlopes wrong = slopes;
    wrong.upper[0].resize(3);
    CHECK_THROWS_WITH_AS(lipsdp_neuron(chain, wrong),
                         "lipsdp_neuron: slopes of activation layer 1 must have one entry per neuron: "
                         "neurons = 4, lower has 4, upper has 3",
                         std::invalid_argument);
    CHECK_THROWS_WITH_AS(lipsdp_matrix(chain, slopes, {}, 1.0),
                         "lipsdp: multipliers need one vector per activation layer: m - 1 = 1, given 0",
                         std::invalid_argument);
    SdpOptions options;
    options.max_iterations = 0;
    CHECK_THROWS_AS(lipsdp_neuron(chain, slopes, options), std::invalid_argument);
  }
}
