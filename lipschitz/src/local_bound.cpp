#include <lipschitz/local_bound.hpp>

#include <lipschitz/averaged_bound.hpp>
#include <lipschitz/dense_norm.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <queue>
#include <stdexcept>

namespace lipschitz {
namespace {

using Vector = Eigen::VectorXd;
constexpr double kEps = std::numeric_limits<double>::epsilon();

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// The image of [l, u] under a monotone or unimodal activation, widened by a rounding ulp.
void activation_image(Activation act, double parameter, double l, double u, double& lo, double& hi) {
  const double fl = activation_value(act, parameter, l), fu = activation_value(act, parameter, u);
  lo = std::min(fl, fu);
  hi = std::max(fl, fu);
  if (act == Activation::gelu || act == Activation::gelu_tanh || act == Activation::silu) {
    // Decreasing, then increasing: the maximum is at an end, the minimum maybe inside
    // (GELU −0.1700 at −0.75, SiLU −0.2785 at −1.28; rounded down).
    const double least = act == Activation::silu ? -0.27847 : -0.17004;
    if (l < 0 && u > -3) lo = std::min(lo, least);
  }
  if (act == Activation::leaky_relu && parameter < 0) {  // not monotone: both ends and 0
    lo = std::min(lo, 0.0);
    hi = std::max(hi, 0.0);
  }
  const double pad = 4 * kEps * (std::abs(lo) + std::abs(hi)) + 1e-300;
  lo -= pad;
  hi += pad;
}

// Slopes of σ on [l, u].
void slope_range(Activation act, double a, double l, double u, double& lo, double& hi) {
  const SlopeRange global = activation_slopes(act, a);
  lo = global.lower;
  hi = global.upper;
  switch (act) {
    case Activation::relu:
    case Activation::leaky_relu:
      if (l >= 0) lo = hi = 1;
      else if (u <= 0) lo = hi = act == Activation::relu ? 0 : a;
      return;
    case Activation::tanh:
    case Activation::sigmoid: {
      // σ′ is even in z and decreasing in |z|.
      const double near = l <= 0 && u >= 0 ? 0 : std::min(std::abs(l), std::abs(u));
      const double far = std::max(std::abs(l), std::abs(u));
      hi = activation_derivative(act, a, near) * (1 + 4 * kEps);
      lo = activation_derivative(act, a, far) * (1 - 4 * kEps);
      return;
    }
    case Activation::softplus:  // σ′ increasing
      lo = activation_derivative(act, a, l) * (1 - 4 * kEps);
      hi = activation_derivative(act, a, u) * (1 + 4 * kEps);
      return;
    case Activation::hardtanh:
      if (l > -1 && u < 1) lo = hi = 1;
      else if (u < -1 || l > 1) lo = hi = 0;
      return;
    case Activation::elu:
      if (l >= 0) lo = hi = 1;
      return;
    default: return;
  }
}

struct BoxNode {
  Box box;
  double upper = 0;
  bool operator<(const BoxNode& other) const { return upper < other.upper; }
};

}  // namespace

IntervalBounds propagate_intervals(const AffineChain& chain, const Box& box) {
  IntervalBounds r;
  Vector lo = box.lower, hi = box.upper;
  for (int k = 0; k + 1 < chain.depth(); ++k) {
    const Eigen::MatrixXd& w = chain.weights[k];
    const Vector centre = (lo + hi) / 2, radius = (hi - lo) / 2;
    const Vector mid = w * centre + chain.biases[k];
    const Vector spread = w.cwiseAbs() * radius;
    // Rounding: each entry of W·c, |W|·r and the sums is within γ_{n+2} of
    // |W|(|c| + r) + |b| (radius and centre themselves are within an ulp of exact).
    const double n = double(w.cols()) + 4;
    const Vector slack = (w.cwiseAbs() * (centre.cwiseAbs() + radius) + chain.biases[k].cwiseAbs()) *
                             (n * kEps / (1 - n * kEps)) +
                         Vector::Constant(w.rows(), 1e-300);
    r.lower.push_back(mid - spread - slack);
    r.upper.push_back(mid + spread + slack);
    lo.resize(w.rows());
    hi.resize(w.rows());
    for (Eigen::Index p = 0; p < w.rows(); ++p)
      activation_image(chain.activations[k], chain.parameters[k], r.lower[k](p), r.upper[k](p),
                       lo(p), hi(p));
  }
  return r;
}

NeuronSlopes local_slopes(const AffineChain& chain, const IntervalBounds& ranges) {
  NeuronSlopes s;
  for (std::size_t k = 0; k < ranges.lower.size(); ++k) {
    const Eigen::Index n = ranges.lower[k].size();
    s.lower.emplace_back(n);
    s.upper.emplace_back(n);
    for (Eigen::Index p = 0; p < n; ++p)
      slope_range(chain.activations[k], chain.parameters[k], ranges.lower[k](p),
                  ranges.upper[k](p), s.lower[k](p), s.upper[k](p));
  }
  return s;
}

namespace {

// The tighter certified bound of a box: the largest pattern Jacobian where few neurons are
// unstable (piecewise-linear chains), else the averaged bound with the box's slopes.
double box_upper_bound(const AffineChain& chain, const Box& box, const LocalOptions& options) {
  const NeuronSlopes slopes = local_slopes(chain, propagate_intervals(chain, box));
  bool pieces = true;
  for (Activation a : chain.activations) pieces = pieces && piecewise_linear(a);
  std::vector<std::pair<int, Eigen::Index>> unstable;
  for (std::size_t k = 0; k < slopes.lower.size(); ++k)
    for (Eigen::Index p = 0; p < slopes.lower[k].size(); ++p)
      if (slopes.lower[k](p) != slopes.upper[k](p)) unstable.push_back({int(k), p});
  if (pieces && static_cast<int>(unstable.size()) <= options.max_pattern_neurons) {
    // Every point's slopes are one of these patterns (a ReLU's slope is its lower or upper).
    std::vector<Vector> d = slopes.lower;
    double best = 0;
    const std::uint64_t patterns = std::uint64_t(1) << unstable.size();
    for (std::uint64_t bits = 0; bits < patterns; ++bits) {
      for (std::size_t i = 0; i < unstable.size(); ++i) {
        const auto [k, p] = unstable[i];
        d[k](p) = (bits >> i) & 1 ? slopes.upper[k](p) : slopes.lower[k](p);
      }
      best = std::max(best, pattern_norm_bound(chain, d));
    }
    return best;
  }
  return averaged_activation_bound(chain, slopes);
}

// ‖J(x)‖ at x, a lower bound on the local constant where the network is differentiable at x;
// for piecewise-linear chains only at points where no pre-activation is 0.
double gradient_norm(const AffineChain& chain, const Vector& x) {
  const Eigen::MatrixXd j = jacobian(chain, x);
  if (!j.allFinite()) return 0;
  bool pieces = true;
  for (Activation a : chain.activations) pieces = pieces && piecewise_linear(a);
  if (pieces) {
    Vector h = x;
    for (int k = 0; k + 1 < chain.depth(); ++k) {
      h = chain.weights[k] * h + chain.biases[k];
      if ((h.array() == 0).any()) return 0;
      for (Eigen::Index p = 0; p < h.size(); ++p)
        h(p) = activation_value(chain.activations[k], chain.parameters[k], h(p));
    }
  }
  return certified_spectral_norm(j).lower * (1 - 1e-12);
}

}  // namespace

LocalBound local_lipschitz(const AffineChain& chain, const Box& domain, const LocalOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  const Eigen::Index n = chain.input_dim();
  if (domain.lower.size() != n || domain.upper.size() != n)
    throw std::invalid_argument("domain: expected a box of " + std::to_string(n) +
                                " coordinates (the network's input), got " +
                                std::to_string(domain.lower.size()));
  if (!domain.lower.allFinite() || !domain.upper.allFinite() ||
      (domain.upper.array() < domain.lower.array()).any())
    throw std::invalid_argument("domain: every lower end must be finite and at most its upper end");
  LocalBound r;
  const Vector width = (domain.upper - domain.lower).cwiseMax(1e-300);
  std::priority_queue<BoxNode> queue;
  const auto visit = [&](Box box) {
    ++r.boxes;
    const Vector centre = (box.lower + box.upper) / 2;
    const double g = gradient_norm(chain, centre);
    if (g > r.lower_bound) {
      r.lower_bound = g;
      r.witness = centre;
    }
    const double upper = box_upper_bound(chain, box, options);
    queue.push({std::move(box), upper});
  };
  visit(domain);
  r.status = "converged";
  while (true) {
    const BoxNode& top = queue.top();
    r.upper_bound = top.upper;
    if (top.upper <= (1 + options.tolerance) * r.lower_bound) {
      r.converged = true;
      break;
    }
    if (seconds_since(start) > options.seconds) {
      r.status = "time budget reached";
      break;
    }
    if (r.boxes + 2 > options.max_boxes) {
      r.status = "box budget reached";
      break;
    }
    BoxNode node = top;
    queue.pop();
    Eigen::Index axis = 0;
    ((node.box.upper - node.box.lower).cwiseQuotient(width)).maxCoeff(&axis);
    const double mid = (node.box.lower(axis) + node.box.upper(axis)) / 2;
    if (!(mid > node.box.lower(axis) && mid < node.box.upper(axis))) {  // no longer divisible
      queue.push(node);
      r.status = "boxes at floating-point resolution";
      break;
    }
    Box left = node.box, right = node.box;
    left.upper(axis) = mid;
    right.lower(axis) = mid;
    visit(std::move(left));
    visit(std::move(right));
  }
  r.upper_bound = queue.top().upper;
  r.seconds = seconds_since(start);
  return r;
}

}  // namespace lipschitz
