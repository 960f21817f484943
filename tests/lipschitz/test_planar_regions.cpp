// Exact planar Lipschitz constants by region enumeration (planar_regions.hpp) against brute force.

#include <lipschitz/planar_regions.hpp>

#include "tolerances.hpp"

#include <doctest/doctest.h>

#include <Eigen/Geometry>
#include <Eigen/SVD>

#include <algorithm>
#include <cmath>
#include <random>
#include <stdexcept>
#include <vector>

using namespace lipschitz;
using namespace lipschitz::test;

namespace {

/// The contract: the upper and lower bounds agree with the truth (and each other) to 1e-9.
constexpr double kExactTol = 1e-9;
/// A linear chain's σ₁ from the closed form against Eigen's SVD: a few dozen ε.
constexpr double kLinearTol = 64 * std::numeric_limits<double>::epsilon();
constexpr double kPi = 3.14159265358979323846;

double sigma1(const Eigen::MatrixXd& a) {
  Eigen::JacobiSVD<Eigen::MatrixXd> svd(a);
  return svd.singularValues()(0);
}

double slope(const AffineChain& chain, std::size_t k) {
  return chain.activations[k] == Activation::relu ? 0.0 : chain.parameters[k];
}

/// The Jacobian at x from its own forward pass (independent of the library).
Eigen::MatrixXd reference_jacobian(const AffineChain& chain, const Eigen::Vector2d& x) {
  Eigen::VectorXd h = x;
  Eigen::MatrixXd j = Eigen::MatrixXd::Identity(2, 2);
  for (std::size_t k = 0; k < chain.weights.size(); ++k) {
    Eigen::VectorXd z = chain.weights[k] * h + chain.biases[k];
    j = chain.weights[k] * j;
    if (k + 1 < chain.weights.size())
      for (Index p = 0; p < z.size(); ++p) {
        const double d = z(p) > 0 ? 1.0 : slope(chain, k);
        z(p) *= d;
        j.row(p) *= d;
      }
    h = z;
  }
  return j;
}

double gradient_norm(const AffineChain& chain, const Eigen::Vector2d& x) {
  return sigma1(reference_jacobian(chain, x));
}

/// Random dense chain 2 → widths… → outputs, weights N(0, 2/fan_in), biases N(0, bias_std²).
AffineChain random_chain(const std::vector<Index>& widths, Index outputs, Activation activation,
                         double parameter, double bias_std, std::mt19937_64& rng) {
  AffineChain chain;
  std::vector<Index> dims{2};
  dims.insert(dims.end(), widths.begin(), widths.end());
  dims.push_back(outputs);
  for (std::size_t k = 0; k + 1 < dims.size(); ++k) {
    std::normal_distribution<double> w_dist(0, std::sqrt(2.0 / static_cast<double>(dims[k])));
    std::normal_distribution<double> b_dist(0, bias_std);
    Eigen::MatrixXd w(dims[k + 1], dims[k]);
    for (Index i = 0; i < w.size(); ++i) w.data()[i] = w_dist(rng);
    Eigen::VectorXd b(dims[k + 1]);
    for (Index i = 0; i < b.size(); ++i) b(i) = b_dist(rng);
    chain.weights.push_back(w);
    chain.biases.push_back(b);
    if (k + 2 < dims.size()) {
      chain.activations.push_back(activation);
      chain.parameters.push_back(parameter);
    }
  }
  return chain;
}

double relative_error(double value, double truth) { return std::abs(value - truth) / truth; }

/// Brute force for one hidden layer, whose regions are the cells of the arrangement of its
/// lines (plus, for a box, the box's edges): every cell has a vertex with an interior angle
/// ≥ 60° (a convex polygon's angles average more than that), so one of 16 rays from its
/// vertices enters it; every unbounded cell meets the circle at infinity between two
/// consecutive line directions. The maximum of ‖J‖ over those points is the constant.
double brute_force(const AffineChain& chain, const Box* box) {
  std::vector<Eigen::Vector3d> lines;  // a x + b y + c = 0
  const Eigen::MatrixXd& w = chain.weights[0];
  for (Index p = 0; p < w.rows(); ++p) lines.emplace_back(w(p, 0), w(p, 1), chain.biases[0](p));
  if (box != nullptr)
    for (int i = 0; i < 2; ++i) {
      Eigen::Vector3d lo = Eigen::Vector3d::Zero(), hi = Eigen::Vector3d::Zero();
      lo(i) = hi(i) = 1;
      lo(2) = -box->lower(i);
      hi(2) = -box->upper(i);
      lines.push_back(lo);
      lines.push_back(hi);
    }
  auto inside = [&](const Eigen::Vector2d& x) {
    return box == nullptr ||
           ((x.array() > box->lower.array()).all() && (x.array() < box->upper.array()).all());
  };
  double best = 0;
  for (std::size_t i = 0; i < lines.size(); ++i)
    for (std::size_t j = i + 1; j < lines.size(); ++j) {
      const Eigen::Vector3d v = lines[i].cross(lines[j]);  // the intersection, homogeneous
      if (std::abs(v(2)) < 1e-12) continue;
      const Eigen::Vector2d x(v(0) / v(2), v(1) / v(2));
      const double step = 1e-7 * (1 + x.norm());
      for (int d = 0; d < 16; ++d) {
        const double t = 2 * kPi * (d + 0.5) / 16;
        const Eigen::Vector2d y = x + step * Eigen::Vector2d(std::cos(t), std::sin(t));
        if (inside(y)) best = std::max(best, gradient_norm(chain, y));
      }
    }
  if (box == nullptr) {
    std::vector<double> angles;
    double offset = 0;
    for (Index p = 0; p < w.rows(); ++p) {
      const double t = std::atan2(w(p, 0), -w(p, 1));  // the line's direction
      angles.push_back(t);
      angles.push_back(t > 0 ? t - kPi : t + kPi);
      offset = std::max(offset, std::abs(chain.biases[0](p)) / w.row(p).norm());
    }
    std::sort(angles.begin(), angles.end());
    angles.push_back(angles.front() + 2 * kPi);
    const double radius = 1e7 * (1 + offset);
    for (std::size_t i = 0; i + 1 < angles.size(); ++i) {
      REQUIRE(angles[i + 1] - angles[i] > 1e4 * offset / radius);  // the brute force's premise
      const double t = 0.5 * (angles[i] + angles[i + 1]);
      best =
          std::max(best, gradient_norm(chain, radius * Eigen::Vector2d(std::cos(t), std::sin(t))));
    }
  }
  return best;
}

Box square(double lo, double hi) { return Box{Eigen::Vector2d(lo, lo), Eigen::Vector2d(hi, hi)}; }

}  // namespace

TEST_CASE("one hidden layer: the bounds equal a brute force over the line arrangement") {
  std::mt19937_64 rng(11);
  struct Case {
    Index width, outputs;
    Activation activation;
    double parameter;
  };
  for (const Case& c : {Case{12, 1, Activation::relu, 0.0}, Case{9, 3, Activation::leaky_relu, 0.2},
                        Case{14, 2, Activation::leaky_relu, -0.5}}) {
    CAPTURE(c.width);
    CAPTURE(c.outputs);
    const AffineChain chain =
        random_chain({c.width}, c.outputs, c.activation, c.parameter, 1.0, rng);
    const PlanarResult global = planar_lipschitz_global(chain);
    REQUIRE(global.complete);
    const double truth = brute_force(chain, nullptr);
    CHECK(relative_error(global.upper_bound, truth) < kExactTol);
    CHECK(relative_error(global.lower_bound, truth) < kExactTol);
    CHECK(global.upper_bound >= truth * (1 - kReferenceSlack));
    CHECK(global.lower_bound <= truth * (1 + kReferenceSlack));
    CHECK(relative_error(gradient_norm(chain, global.witness), global.lower_bound) < kExactTol);

    const Box box{Eigen::Vector2d(-0.7, -1.1), Eigen::Vector2d(0.9, 0.4)};
    const PlanarResult local = planar_lipschitz(chain, box);
    REQUIRE(local.complete);
    const double local_truth = brute_force(chain, &box);
    CHECK(relative_error(local.upper_bound, local_truth) < kExactTol);
    CHECK(relative_error(local.lower_bound, local_truth) < kExactTol);
    CHECK(local.upper_bound >= local_truth * (1 - kReferenceSlack));
    CHECK((local.witness.array() >= box.lower.array()).all());
    CHECK((local.witness.array() <= box.upper.array()).all());
    CHECK(local.regions <= global.regions);
  }
}

TEST_CASE("deep random nets: sampled gradients stay below the upper bound, which the lower meets") {
  std::mt19937_64 rng(12);
  std::uniform_int_distribution<Index> width(8, 32);
  for (int hidden = 1; hidden <= 3; ++hidden)
    for (Activation activation : {Activation::relu, Activation::leaky_relu}) {
      std::vector<Index> widths;
      for (int l = 0; l < hidden; ++l) widths.push_back(width(rng));
      const Index outputs = activation == Activation::relu ? 1 : 2;
      CAPTURE(hidden);
      CAPTURE(to_string(activation));
      const AffineChain chain = random_chain(widths, outputs, activation, 0.2, 0.3, rng);
      const Box box = square(-1.5, 1.5);
      const PlanarResult local = planar_lipschitz(chain, box);
      const PlanarResult global = planar_lipschitz_global(chain);
      REQUIRE(local.complete);
      REQUIRE(global.complete);
      CAPTURE(local.regions);
      CAPTURE(global.regions);

      std::uniform_real_distribution<double> coord(-1.5, 1.5);
      double sampled = 0;
      for (int i = 0; i < 100'000; ++i)
        sampled = std::max(sampled, gradient_norm(chain, Eigen::Vector2d(coord(rng), coord(rng))));
      std::uniform_real_distribution<double> angle(0, 2 * kPi), log_radius(1, 6);
      double far = 0;
      for (int i = 0; i < 20'000; ++i) {
        const double t = angle(rng), r = std::pow(10.0, log_radius(rng));
        far = std::max(far, gradient_norm(chain, r * Eigen::Vector2d(std::cos(t), std::sin(t))));
      }
      CHECK(local.upper_bound >= sampled * (1 - kReferenceSlack));
      CHECK(global.upper_bound >= std::max(sampled, far) * (1 - kReferenceSlack));
      CHECK(local.lower_bound <= local.upper_bound);
      CHECK(global.lower_bound <= global.upper_bound);
      CHECK(local.upper_bound / local.lower_bound - 1 < kExactTol);
      CHECK(global.upper_bound / global.lower_bound - 1 < kExactTol);
      CHECK(global.upper_bound >= local.upper_bound * (1 - kExactTol));
      CHECK(global.lower_bound >= local.lower_bound * (1 - kExactTol));
      // The witnesses are real: the reference gradient there is the lower bound.
      CHECK(relative_error(gradient_norm(chain, local.witness), local.lower_bound) < kExactTol);
      CHECK(relative_error(gradient_norm(chain, global.witness), global.lower_bound) < kExactTol);
      CHECK((local.witness.array().abs() <= 1.5).all());
    }
}

TEST_CASE("threads do not change the result; more bias gives the same global constant") {
  std::mt19937_64 rng(13);
  AffineChain chain = random_chain({24, 24}, 1, Activation::relu, 0, 0.3, rng);
  PlanarOptions one;
  one.threads = 1;
  PlanarOptions two;
  two.threads = 2;
  const PlanarResult a = planar_lipschitz_global(chain, one),
                     b = planar_lipschitz_global(chain, two);
  CHECK(a.upper_bound == b.upper_bound);
  CHECK(a.regions == b.regions);
  // ReLU is positively homogeneous: scaling every bias by s gives s·f(x/s), same constant.
  for (auto& bias : chain.biases) bias *= 7;
  const PlanarResult c = planar_lipschitz_global(chain, two);
  CHECK(relative_error(c.upper_bound, a.upper_bound) < kExactTol);
  CHECK(c.regions == a.regions);
}

TEST_CASE("a linear chain (depth 1) gives ‖W‖") {
  std::mt19937_64 rng(14);
  for (Index outputs : {1, 3}) {
    const AffineChain chain = random_chain({}, outputs, Activation::relu, 0, 1.0, rng);
    const double truth = sigma1(chain.weights[0]);
    for (const PlanarResult& r :
         {planar_lipschitz(chain, square(-1, 1)), planar_lipschitz_global(chain)}) {
      CHECK(r.complete);
      CHECK(r.regions == 1);
      CHECK(r.upper_bound >= truth);
      CHECK(relative_error(r.upper_bound, truth) < kLinearTol);
      CHECK(relative_error(r.lower_bound, truth) < kLinearTol);
    }
  }
}

TEST_CASE("a tiny region between two nearly parallel lines is found") {
  // f = relu(y) − relu(ε + δx − y): gradient (0, 1) above both lines, (−δ, 1) below, and
  // (−δ, 2) only in the sliver 0 < y < ε + δx, about 1e-8 thick in the box.
  const double eps = 1e-8, tilt = 1e-9;
  const double truth = std::hypot(2.0, tilt);
  for (double rotation : {0.0, 0.7}) {
    CAPTURE(rotation);
    const Eigen::Matrix2d rot = Eigen::Rotation2D<double>(rotation).toRotationMatrix();
    AffineChain chain;
    Eigen::MatrixXd w1(2, 2);
    w1 << 0, 1, tilt, -1;
    chain.weights = {w1 * rot.transpose(), Eigen::RowVector2d(1, -1)};
    chain.biases = {Eigen::Vector2d(0, eps), Eigen::VectorXd::Zero(1)};
    chain.activations = {Activation::relu};
    chain.parameters = {0};
    const PlanarResult local = planar_lipschitz(chain, square(-1, 1));
    const PlanarResult global = planar_lipschitz_global(chain);
    for (const PlanarResult& r : {local, global}) {
      REQUIRE(r.complete);
      CHECK(relative_error(r.upper_bound, truth) < kExactTol);
      CHECK(relative_error(r.lower_bound, truth) < kExactTol);
      const Eigen::Vector2d y = rot.transpose() * r.witness;  // back to the unrotated frame
      CHECK(y(1) > 0);
      CHECK(y(1) < eps + tilt * y(0));
    }
    // Sampling would not see it.
    std::mt19937_64 rng(15);
    std::uniform_real_distribution<double> coord(-1, 1);
    double sampled = 0;
    for (int i = 0; i < 10'000; ++i)
      sampled = std::max(sampled, gradient_norm(chain, Eigen::Vector2d(coord(rng), coord(rng))));
    CHECK(sampled < 1.1);
  }
}

TEST_CASE("budgets: out of time or regions, the result is incomplete and the bound +inf") {
  std::mt19937_64 rng(16);
  const AffineChain chain = random_chain({32, 32}, 1, Activation::relu, 0, 0.3, rng);
  PlanarOptions no_time;
  no_time.seconds = 0;
  const PlanarResult a = planar_lipschitz_global(chain, no_time);
  CHECK_FALSE(a.complete);
  CHECK(a.status == PlanarStatus::time_limit);
  CHECK(std::isinf(a.upper_bound));
  PlanarOptions few;
  few.max_regions = 10;
  const PlanarResult b = planar_lipschitz_global(chain, few);
  CHECK_FALSE(b.complete);
  CHECK(b.status == PlanarStatus::region_limit);
  CHECK(std::isinf(b.upper_bound));
  CHECK(to_string(b.status) == "region_limit");
}

TEST_CASE("NaN weights are a status, not an exception") {
  std::mt19937_64 rng(17);
  AffineChain chain = random_chain({4}, 1, Activation::relu, 0, 0.3, rng);
  chain.weights[1](0, 2) = std::nan("");
  const PlanarResult r = planar_lipschitz(chain, square(-1, 1));
  CHECK_FALSE(r.complete);
  CHECK(r.status == PlanarStatus::non_finite);
  CHECK(std::isinf(r.upper_bound));
}

TEST_CASE("invalid inputs throw with the constraint and the value") {
  std::mt19937_64 rng(18);
  AffineChain chain = random_chain({4}, 1, Activation::relu, 0, 0.3, rng);
  AffineChain wide = chain;
  wide.weights[0] = Eigen::MatrixXd::Ones(4, 3);
  CHECK_THROWS_WITH_AS(planar_lipschitz_global(wide),
                       "planar_lipschitz needs a 2-D input: input_dim = 3", std::invalid_argument);
  AffineChain smooth = chain;
  smooth.activations = {Activation::tanh};
  CHECK_THROWS_WITH_AS(
      planar_lipschitz(smooth, square(-1, 1)),
      "planar_lipschitz needs piecewise-linear activations (ReLU, LeakyReLU): activation 0 is Tanh",
      std::invalid_argument);
  AffineChain no_slope = chain;
  no_slope.activations = {Activation::leaky_relu};
  no_slope.parameters.clear();
  CHECK_THROWS_WITH_AS(planar_lipschitz_global(no_slope),
                       "planar_lipschitz: LeakyReLU 0 has no slope: chain.parameters has 0 entries",
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(
      planar_lipschitz(chain, Box{Eigen::Vector3d::Zero(), Eigen::Vector3d::Ones()}),
      "planar_lipschitz needs a 2-D box: lower has 3 entries, upper 3", std::invalid_argument);
  CHECK_THROWS_WITH_AS(planar_lipschitz(chain, Box{Eigen::Vector2d(0, 1), Eigen::Vector2d(1, 1)}),
                       "planar_lipschitz needs a finite box with lower < upper: coordinate 1 has "
                       "[1.000000, 1.000000]",
                       std::invalid_argument);
}
