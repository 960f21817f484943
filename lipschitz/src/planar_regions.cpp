#include <lipschitz/planar_regions.hpp>

#include "parallel.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <stdexcept>
#include <string>
#include <vector>

namespace lipschitz {

std::string to_string(PlanarStatus status) {
  switch (status) {
    case PlanarStatus::complete:
      return "complete";
    case PlanarStatus::time_limit:
      return "time_limit";
    case PlanarStatus::region_limit:
      return "region_limit";
    case PlanarStatus::non_finite:
      return "non_finite";
  }
  return "?";
}

namespace {

using Clock = std::chrono::steady_clock;

constexpr double kUnitRoundoff = std::numeric_limits<double>::epsilon() / 2;
constexpr double kInfinity = std::numeric_limits<double>::infinity();
/// The domain (box or quadrant triangles) grows by this fraction of its scale, so that the
/// pieces' boundaries, which move inwards by a few hundred roundoffs over all the cuts, still
/// cover it. What the growth adds are real points of the plane (or, for a box, a band
/// 10⁻¹² wide outside it): it can only raise the upper bound.
constexpr double kDomainGrowth = 1e-12;
/// Safety factor of the classification margin over the worst-case error it covers.
constexpr double kMarginSafety = 32;
/// Safety factor of the Jacobian's rounding term over its worst-case γ_n bound.
constexpr double kJacobianSafety = 2;
/// Leaves between two looks at the clock and the shared region count.
constexpr std::int64_t kCheckEvery = 1024;
/// Forward passes per thread allowed to fail (slivers, points outside the box) before it stops
/// looking for better witnesses: bounds their cost.
constexpr int kMaxWitnessFailures = 1000;

/// A polygon vertex in homogeneous coordinates: the point (x/w, y/w), w ≥ 0 (w = 1 in a box).
struct Vertex {
  double x, y, w;
};

/// One affine map of the chain, z = W h + b, with the activation after it when it is hidden.
struct Stage {
  Index rows = 0, cols = 0;
  const double* weight = nullptr;  ///< column-major rows × cols (Eigen's layout)
  const double* bias = nullptr;
  double negative_slope = 0;   ///< σ′ for z < 0 (σ′ = 1 for z > 0); hidden stages only
  std::vector<double> margin;  ///< δ_p per neuron, in the units of z·w
  std::vector<char> inert;     ///< Ā_p = c̄_p = 0: z_p ≡ 0 exactly, its slope is moot
  Eigen::MatrixXd abs_linear;  ///< Ā: entrywise bound on |A| of z = A x + c (rows × 2)
  Eigen::VectorXd abs_offset;  ///< c̄: the same for |c|
};

/// Everything the enumeration reads, shared by the threads.
struct Setup {
  std::vector<Stage> stages;  ///< m stages; the last is the output map
  double margin_factor = 0;   ///< δ_p = margin_factor · (Ā_p·|x|_max + c̄_p·w_max)
  double jacobian_error = 0;  ///< bound on ‖J_computed − J_s‖₂
  double sigma_relative = 0;  ///< relative rounding of the closed-form σ₁
  bool global = false;
  Eigen::Vector2d box_lower, box_upper;  ///< the user's box (local case), for the witness
  Index max_width = 0;
};

/// Shared stop flag and budgets.
struct Control {
  std::atomic<bool> stop{false};
  std::atomic<int> reason{static_cast<int>(PlanarStatus::complete)};
  std::atomic<std::int64_t> regions{0};
  std::int64_t max_regions = 0;
  Clock::time_point deadline;

  void halt(PlanarStatus why) {
    int expected = static_cast<int>(PlanarStatus::complete);
    reason.compare_exchange_strong(expected, static_cast<int>(why));
    stop.store(true, std::memory_order_relaxed);
  }
};

/// The cells of the first layer's arrangement, each with its first-layer pattern: the units
/// the threads share out.
struct TaskList {
  std::vector<Vertex> vertices;
  std::vector<std::size_t> begin;
  std::vector<int> count;
  std::vector<signed char> signs;  ///< n_1 per task, ±1
};

/// σ₁² of the n × 2 matrix with columns a, b: λ_max of its Gram [[p, q], [q, r]].
double sigma1_squared(const double* a, const double* b, Index n) {
  double p = 0, q = 0, r = 0;
  for (Index i = 0; i < n; ++i) {
    p += a[i] * a[i];
    q += a[i] * b[i];
    r += b[i] * b[i];
  }
  const double half_gap = 0.5 * (p - r);
  return 0.5 * (p + r) + std::sqrt(half_gap * half_gap + q * q);
}

/// One thread's state: stacks for polygons and [A | c] matrices (addressed by offsets, so
/// growth never invalidates them), per-layer scratch, and its tallies.
struct Workspace {
  std::vector<Vertex> vertices;
  std::vector<double> g;                        ///< [A | c] matrices, column-major n × 3 each
  std::vector<std::size_t> layer_g;             ///< offset of the current G_l, per hidden stage
  std::vector<std::vector<int>> crossing;       ///< per hidden stage: neurons to split on
  std::vector<std::vector<signed char>> signs;  ///< per hidden stage: current pattern
  std::vector<double> z_min, z_max;             ///< classification scratch
  // Tallies.
  std::int64_t regions = 0, unreported = 0;
  double sigma2_max = 0;
  double lower = 0, witness_sigma2 = -1;
  Eigen::Vector2d witness = Eigen::Vector2d::Zero();
  bool has_witness = false;
  int witness_failures = 0;
  // Collecting the first layer's cells instead of descending.
  TaskList* collect = nullptr;

  explicit Workspace(const Setup& s) {
    const std::size_t hidden = s.stages.size() - 1;
    layer_g.assign(hidden, 0);
    crossing.resize(hidden);
    signs.resize(hidden);
    std::size_t levels = 0, g_size = 0;
    for (std::size_t l = 0; l < hidden; ++l) {
      const auto n = static_cast<std::size_t>(s.stages[l].rows);
      crossing[l].reserve(n);
      signs[l].assign(n, 0);
      levels += n + 2;
      g_size += (n + 2) * 3 * static_cast<std::size_t>(s.stages[l + 1].rows);
    }
    g.reserve(g_size + 3 * static_cast<std::size_t>(s.stages[0].rows));
    vertices.reserve(std::min<std::size_t>(levels * 16, std::size_t(1) << 22));
    z_min.resize(static_cast<std::size_t>(s.max_width));
    z_max.resize(static_cast<std::size_t>(s.max_width));
  }
};

/// The depth-first enumeration over one thread's workspace.
class Enumerator {
 public:
  Enumerator(const Setup& setup, Control& control, Workspace& ws)
      : s_(setup), control_(control), ws_(ws), last_(static_cast<int>(setup.stages.size()) - 1) {}

  /// Layer l's neurons split the polygon [pb, pb + pc) whose G_l sits at g_off.
  void descend(int l, std::size_t pb, int pc, std::size_t g_off) {
    const Stage& st = s_.stages[static_cast<std::size_t>(l)];
    const Stage& nx = s_.stages[static_cast<std::size_t>(l) + 1];
    const Index n = st.rows, nn = nx.rows;
    ws_.layer_g[static_cast<std::size_t>(l)] = g_off;
    double* z_min = ws_.z_min.data();
    double* z_max = ws_.z_max.data();
    std::fill(z_min, z_min + n, kInfinity);
    std::fill(z_max, z_max + n, -kInfinity);
    {
      const double* g0 = ws_.g.data() + g_off;
      const double* g1 = g0 + n;
      const double* g2 = g1 + n;
      for (int i = 0; i < pc; ++i) {
        const Vertex v = ws_.vertices[pb + static_cast<std::size_t>(i)];
        for (Index p = 0; p < n; ++p) {
          const double z = g0[p] * v.x + g1[p] * v.y + g2[p] * v.w;
          z_min[p] = std::min(z_min[p], z);
          z_max[p] = std::max(z_max[p], z);
        }
      }
    }
    // The next stage's base: fixed neurons at their slope, crossing ones at the negative slope.
    const std::size_t gn = ws_.g.size();
    ws_.g.resize(gn + static_cast<std::size_t>(3 * nn), 0.0);
    double* h = ws_.g.data() + gn;
    std::copy(nx.bias, nx.bias + nn, h + 2 * nn);
    const double* g = ws_.g.data() + g_off;
    auto& cross = ws_.crossing[static_cast<std::size_t>(l)];
    auto& sign = ws_.signs[static_cast<std::size_t>(l)];
    cross.clear();
    for (Index p = 0; p < n; ++p) {
      const double delta = st.margin[static_cast<std::size_t>(p)];
      double d = st.negative_slope;
      if (st.inert[static_cast<std::size_t>(p)]) {  // contributes d·0 whichever side it takes
        sign[static_cast<std::size_t>(p)] = -1;
        continue;
      }
      if (z_min[p] > delta) {
        d = 1;
        sign[static_cast<std::size_t>(p)] = 1;
      } else if (z_max[p] < -delta) {
        sign[static_cast<std::size_t>(p)] = -1;
      } else {
        sign[static_cast<std::size_t>(p)] = 0;
        cross.push_back(static_cast<int>(p));
      }
      if (d != 0) add_column(h, nx, p, d * g[p], d * g[n + p], d * g[2 * n + p]);
    }
    split(l, 0, pb, pc, gn);
    ws_.g.resize(gn);
  }

  /// Collect (or descend into) the pieces of the polygon [pb, pb + pc) cut by crossing
  /// neurons k, k+1, … of layer l; G_{l+1} at gn is this branch's own (it is modified).
  void split(int l, std::size_t k, std::size_t pb, int pc, std::size_t gn) {
    if (control_.stop.load(std::memory_order_relaxed)) return;
    const auto& cross = ws_.crossing[static_cast<std::size_t>(l)];
    if (k == cross.size()) {
      leaf(l, pb, pc, gn);
      return;
    }
    const Stage& st = s_.stages[static_cast<std::size_t>(l)];
    const Stage& nx = s_.stages[static_cast<std::size_t>(l) + 1];
    const Index n = st.rows;
    const int q = cross[k];
    const double* g = ws_.g.data() + ws_.layer_g[static_cast<std::size_t>(l)];
    const double a = g[q], b = g[n + q], c = g[2 * n + q];
    double lo = kInfinity, hi = -kInfinity;
    for (int i = 0; i < pc; ++i) {
      const Vertex v = ws_.vertices[pb + static_cast<std::size_t>(i)];
      const double z = a * v.x + b * v.y + c * v.w;
      lo = std::min(lo, z);
      hi = std::max(hi, z);
    }
    const double delta = st.margin[static_cast<std::size_t>(q)];
    const double up = 1 - st.negative_slope;  // the positive side's extra slope
    auto& sign = ws_.signs[static_cast<std::size_t>(l)];
    if (lo > delta) {
      sign[static_cast<std::size_t>(q)] = 1;
      add_column(ws_.g.data() + gn, nx, q, up * a, up * b, up * c);
      split(l, k + 1, pb, pc, gn);
      return;
    }
    if (hi < -delta) {
      sign[static_cast<std::size_t>(q)] = -1;
      split(l, k + 1, pb, pc, gn);
      return;
    }
    // Both sides, each grown by the margin towards the other.
    const std::size_t vb = ws_.vertices.size();
    const int neg = clip(pb, pc, -a, -b, -c, delta);
    if (neg >= 3) {
      const std::size_t size = static_cast<std::size_t>(3 * nx.rows);
      const std::size_t copy = ws_.g.size();
      ws_.g.resize(copy + size);
      std::copy_n(ws_.g.data() + gn, size, ws_.g.data() + copy);
      sign[static_cast<std::size_t>(q)] = -1;
      split(l, k + 1, vb, neg, copy);
      ws_.g.resize(copy);
    }
    ws_.vertices.resize(vb);
    const int pos = clip(pb, pc, a, b, c, delta);
    if (pos >= 3) {
      sign[static_cast<std::size_t>(q)] = 1;
      add_column(ws_.g.data() + gn, nx, q, up * a, up * b, up * c);
      split(l, k + 1, vb, pos, gn);
    }
    ws_.vertices.resize(vb);
  }

 private:
  /// h += W_next[:, p] ⊗ (a, b, c): the rank-1 term of neuron p.
  static void add_column(double* h, const Stage& nx, Index p, double a, double b, double c) {
    const Index nn = nx.rows;
    const double* w = nx.weight + p * nn;
    double* h0 = h;
    double* h1 = h + nn;
    double* h2 = h + 2 * nn;
    for (Index r = 0; r < nn; ++r) {
      h0[r] += w[r] * a;
      h1[r] += w[r] * b;
      h2[r] += w[r] * c;
    }
  }

  /// Appends the part of polygon [pb, pb + pc) where a x + b y + c w + δ ≥ 0 (one
  /// Sutherland–Hodgman step: Sutherland & Hodgman, CACM 17(1), 1974) and returns its vertex
  /// count. Interpolating along the edge keeps the new vertex on it whatever the rounding.
  int clip(std::size_t pb, int pc, double a, double b, double c, double delta) {
    auto f = [&](const Vertex& v) { return a * v.x + b * v.y + c * v.w + delta; };
    int out = 0;
    Vertex prev = ws_.vertices[pb + static_cast<std::size_t>(pc - 1)];
    double fp = f(prev);
    for (int i = 0; i < pc; ++i) {
      const Vertex cur = ws_.vertices[pb + static_cast<std::size_t>(i)];
      const double fc = f(cur);
      if ((fc >= 0 && fp < 0 && fc > 0) || (fc < 0 && fp > 0)) {
        const double t = fp / (fp - fc);
        ws_.vertices.push_back({prev.x + t * (cur.x - prev.x), prev.y + t * (cur.y - prev.y),
                                prev.w + t * (cur.w - prev.w)});
        ++out;
      }
      if (fc >= 0) {
        ws_.vertices.push_back(cur);
        ++out;
      }
      prev = cur;
      fp = fc;
    }
    return out;
  }

  void leaf(int l, std::size_t pb, int pc, std::size_t gn) {
    if (l + 1 < last_) {
      if (ws_.collect != nullptr && l == 0) {
        collect(pb, pc);
      } else {
        descend(l + 1, pb, pc, gn);
      }
      return;
    }
    // gn holds the output stage's [J | c]: a final region.
    const Index no = s_.stages.back().rows;
    const double* j = ws_.g.data() + gn;
    const double s2 = sigma1_squared(j, j + no, no);
    ws_.sigma2_max = std::max(ws_.sigma2_max, s2);
    if (s2 > ws_.witness_sigma2 * (1 + 64 * kUnitRoundoff) &&
        ws_.witness_failures < kMaxWitnessFailures)
      try_witness(pb, pc);
    count_region();
  }

  void collect(std::size_t pb, int pc) {
    TaskList& t = *ws_.collect;
    t.begin.push_back(t.vertices.size());
    t.count.push_back(pc);
    for (int i = 0; i < pc; ++i)
      t.vertices.push_back(ws_.vertices[pb + static_cast<std::size_t>(i)]);
    const auto& sign = ws_.signs[0];
    t.signs.insert(t.signs.end(), sign.begin(), sign.end());
    count_region();
  }

  void count_region() {
    ++ws_.regions;
    if (++ws_.unreported < kCheckEvery) return;
    const std::int64_t total = control_.regions.fetch_add(ws_.unreported) + ws_.unreported;
    ws_.unreported = 0;
    if (total > control_.max_regions) control_.halt(PlanarStatus::region_limit);
    if (Clock::now() > control_.deadline) control_.halt(PlanarStatus::time_limit);
  }

  /// Confirms a lower bound at an interior point of the piece [pb, pb + pc): a forward pass
  /// there must find every pre-activation beyond its margin (then the point is interior to
  /// the region of the pattern it computes, and that pattern's Jacobian is a true gradient).
  void try_witness(std::size_t pb, int pc) {
    Vertex c{0, 0, 0}, top{0, 0, -1};
    for (int i = 0; i < pc; ++i) {
      const Vertex v = ws_.vertices[pb + static_cast<std::size_t>(i)];
      c.x += v.x / pc;
      c.y += v.y / pc;
      c.w += v.w / pc;
      if (v.w > top.w) top = v;
    }
    if (c.w < 0.5 * top.w) c = {0.5 * (c.x + top.x), 0.5 * (c.y + top.y), 0.5 * (c.w + top.w)};
    bool ok = c.w > 0;
    Eigen::Vector2d x(0, 0);
    if (ok) {
      x = Eigen::Vector2d(c.x / c.w, c.y / c.w);
      ok = std::isfinite(x(0)) && std::isfinite(x(1));
    }
    if (ok && !s_.global)
      ok = (x.array() >= s_.box_lower.array()).all() && (x.array() <= s_.box_upper.array()).all();
    double s2 = 0;
    if (ok) ok = forward(x, s2);
    if (!ok) {
      ++ws_.witness_failures;
      return;
    }
    const double lower = std::sqrt(s2) * (1 - s_.sigma_relative) - s_.jacobian_error;
    if (!ws_.has_witness || s2 > ws_.witness_sigma2) {
      ws_.witness_sigma2 = s2;
      ws_.lower = std::max(0.0, lower);
      ws_.witness = x;
      ws_.has_witness = true;
    }
  }

  /// Forward pass at x with the Jacobian; false where a pre-activation is within its margin.
  bool forward(const Eigen::Vector2d& x, double& sigma2) const {
    Eigen::VectorXd h = x;
    Eigen::MatrixXd a = Eigen::MatrixXd::Identity(2, 2);
    for (int l = 0; l <= last_; ++l) {
      const Stage& st = s_.stages[static_cast<std::size_t>(l)];
      const Eigen::Map<const Eigen::MatrixXd> w(st.weight, st.rows, st.cols);
      const Eigen::Map<const Eigen::VectorXd> b(st.bias, st.rows);
      Eigen::VectorXd z = w * h + b;
      Eigen::MatrixXd za = w * a;
      if (l == last_) {
        sigma2 = sigma1_squared(za.data(), za.data() + za.rows(), za.rows());
        return true;
      }
      for (Index p = 0; p < st.rows; ++p) {
        const double delta =
            s_.margin_factor * (st.abs_linear(p, 0) * std::abs(x(0)) +
                                st.abs_linear(p, 1) * std::abs(x(1)) + st.abs_offset(p));
        const bool constant_zero = z(p) == 0 && za(p, 0) == 0 && za(p, 1) == 0;
        if (!(std::abs(z(p)) > delta) && !constant_zero) return false;
        const double d = z(p) > 0 ? 1.0 : st.negative_slope;
        z(p) *= d;
        za.row(p) *= d;
      }
      h = std::move(z);
      a = std::move(za);
    }
    return false;
  }

  const Setup& s_;
  Control& control_;
  Workspace& ws_;
  const int last_;  ///< index of the output stage
};

double slope_of(const AffineChain& chain, std::size_t k) {
  if (chain.activations[k] == Activation::relu) return 0;
  if (k >= chain.parameters.size())
    throw std::invalid_argument("planar_lipschitz: LeakyReLU " + std::to_string(k) +
                                " has no slope: chain.parameters has " +
                                std::to_string(chain.parameters.size()) + " entries");
  return chain.parameters[k];
}

void validate(const AffineChain& chain) {
  if (chain.depth() < 1)
    throw std::invalid_argument("planar_lipschitz needs at least one affine map: depth = 0");
  if (chain.input_dim() != 2)
    throw std::invalid_argument("planar_lipschitz needs a 2-D input: input_dim = " +
                                std::to_string(chain.input_dim()));
  const auto m = static_cast<std::size_t>(chain.depth());
  if (chain.biases.size() != m || chain.activations.size() + 1 != m)
    throw std::invalid_argument("planar_lipschitz: a chain of " + std::to_string(m) +
                                " affine maps needs " + std::to_string(m) + " biases and " +
                                std::to_string(m - 1) +
                                " activations: biases = " + std::to_string(chain.biases.size()) +
                                ", activations = " + std::to_string(chain.activations.size()));
  for (std::size_t k = 0; k < m; ++k) {
    const Index rows = chain.weights[k].rows();
    if (rows < 1 || chain.biases[k].size() != rows ||
        (k > 0 && chain.weights[k].cols() != chain.weights[k - 1].rows()))
      throw std::invalid_argument("planar_lipschitz: inconsistent shapes at affine map " +
                                  std::to_string(k) + ": W is " + std::to_string(rows) + "x" +
                                  std::to_string(chain.weights[k].cols()) + ", b has " +
                                  std::to_string(chain.biases[k].size()) + " entries");
  }
  for (std::size_t k = 0; k + 1 < m; ++k) {
    const Activation a = chain.activations[k];
    if (a != Activation::relu && a != Activation::leaky_relu)
      throw std::invalid_argument(
          "planar_lipschitz needs piecewise-linear activations (ReLU, LeakyReLU): activation " +
          std::to_string(k) + " is " + to_string(a));
    slope_of(chain, k);
  }
}

bool finite(const AffineChain& chain) {
  for (std::size_t k = 0; k < chain.weights.size(); ++k)
    if (!chain.weights[k].allFinite() || !chain.biases[k].allFinite()) return false;
  for (std::size_t k = 0; k + 1 < chain.weights.size(); ++k)
    if (!std::isfinite(slope_of(chain, k))) return false;
  return true;
}

/// Stages, margins and rounding terms. `scale` = (|x|_max, |y|_max, w_max) over the domain.
Setup make_setup(const AffineChain& chain, const Eigen::Vector3d& scale) {
  Setup s;
  const auto m = static_cast<std::size_t>(chain.depth());
  Index width_sum = 0, max_width = 0;
  for (std::size_t k = 0; k < m; ++k) {
    max_width = std::max(max_width, chain.weights[k].rows());
    if (k + 1 < m) width_sum += chain.weights[k].rows();
  }
  s.max_width = max_width;
  // Covers (kMarginSafety ×) the worst case of: G_l's accumulated error, l·γ_{2n+6}·Ā_l; the
  // vertices' drift, 3u per cut over ≤ Σn cuts; evaluating z, γ_3 (docs in the header).
  s.margin_factor = kMarginSafety *
                    static_cast<double>(4 * width_sum + 8 * static_cast<Index>(m) + 64) *
                    kUnitRoundoff;
  s.stages.resize(m);
  Eigen::MatrixXd abs_a;  // Ā of the previous stage, times its slope bound
  Eigen::VectorXd abs_c;
  for (std::size_t k = 0; k < m; ++k) {
    Stage& st = s.stages[k];
    const Eigen::MatrixXd& w = chain.weights[k];
    st.rows = w.rows();
    st.cols = w.cols();
    st.weight = w.data();
    st.bias = chain.biases[k].data();
    if (k == 0) {
      st.abs_linear = w.cwiseAbs();
      st.abs_offset = chain.biases[k].cwiseAbs();
    } else {
      st.abs_linear = w.cwiseAbs() * abs_a;
      st.abs_offset = w.cwiseAbs() * abs_c + chain.biases[k].cwiseAbs();
    }
    if (k + 1 < m) {
      st.negative_slope = slope_of(chain, k);
      const double bound = std::max(1.0, std::abs(st.negative_slope));
      abs_a = bound * st.abs_linear;
      abs_c = bound * st.abs_offset;
      st.margin.resize(static_cast<std::size_t>(st.rows));
      st.inert.resize(static_cast<std::size_t>(st.rows));
      for (Index p = 0; p < st.rows; ++p) {
        const auto i = static_cast<std::size_t>(p);
        st.margin[i] =
            s.margin_factor * (st.abs_linear(p, 0) * scale(0) + st.abs_linear(p, 1) * scale(1) +
                               st.abs_offset(p) * scale(2));
        // Every term of z_p is then an exact zero (a pruned neuron, or one fed only by such).
        st.inert[i] = st.abs_linear(p, 0) == 0 && st.abs_linear(p, 1) == 0 && st.abs_offset(p) == 0;
      }
    }
  }
  // ‖J − J_s‖₂ ≤ ‖m·γ_{2n+6}·Ā_m‖_F: each stage adds γ_{2n+6}·|W||G| and passes on the
  // earlier errors through |W|·S.
  const double gamma =
      static_cast<double>(m) * static_cast<double>(2 * max_width + 6) * kUnitRoundoff;
  s.jacobian_error =
      m == 1 ? 0.0 : kJacobianSafety * gamma / (1 - gamma) * s.stages.back().abs_linear.norm();
  s.sigma_relative = 4 * static_cast<double>(chain.output_dim() + 16) * kUnitRoundoff;
  return s;
}

/// The enumeration over the given starting polygons (each 3 or 4 homogeneous vertices).
PlanarResult run(const AffineChain& chain, const std::vector<std::vector<Vertex>>& domains,
                 Setup& setup, const Eigen::Vector2d& centre, const PlanarOptions& options) {
  const auto start = Clock::now();
  PlanarResult r;
  r.witness = centre;
  auto finish = [&](PlanarResult& res) {
    res.seconds = std::chrono::duration<double>(Clock::now() - start).count();
    return res;
  };
  if (!finite(chain)) {
    r.status = PlanarStatus::non_finite;
    return finish(r);
  }
  const int m = chain.depth();
  if (m == 1) {  // affine: one region, J = W exactly
    const Eigen::MatrixXd& w = chain.weights[0];
    const double s = std::sqrt(sigma1_squared(w.data(), w.data() + w.rows(), w.rows()));
    r.upper_bound = std::nextafter(s * (1 + setup.sigma_relative), kInfinity);
    r.lower_bound = s * (1 - setup.sigma_relative);
    r.complete = true;
    r.regions = 1;
    return finish(r);
  }

  Control control;
  control.max_regions = options.max_regions;
  const double budget = std::max(0.0, std::min(options.seconds, 1e9));
  control.deadline =
      start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(budget));
  if (options.seconds <= 0) control.halt(PlanarStatus::time_limit);

  const int threads = detail::resolve_threads(options.threads);
  std::vector<Workspace> spaces;
  spaces.reserve(static_cast<std::size_t>(threads));
  for (int t = 0; t < threads; ++t) spaces.emplace_back(setup);

  // Stage 0: G_0 = [W_1 | b_1].
  const Index n0 = setup.stages[0].rows;
  std::vector<double> g0(static_cast<std::size_t>(3 * n0));
  {
    const Eigen::MatrixXd& w = chain.weights[0];
    std::copy_n(w.data(), 2 * n0, g0.data());
    std::copy_n(chain.biases[0].data(), n0, g0.data() + 2 * n0);
  }
  auto start_polygon = [&](Workspace& ws, const Vertex* v, int count) {
    ws.vertices.clear();
    ws.g.clear();
    ws.vertices.insert(ws.vertices.end(), v, v + count);
  };

  TaskList tasks;
  {
    Workspace& ws = spaces[0];
    ws.collect = m >= 3 ? &tasks : nullptr;
    Enumerator e(setup, control, ws);
    for (const auto& poly : domains) {
      start_polygon(ws, poly.data(), static_cast<int>(poly.size()));
      ws.g.assign(g0.begin(), g0.end());
      e.descend(0, 0, static_cast<int>(poly.size()), 0);
    }
    ws.collect = nullptr;
    if (m >= 3) {  // the cells were counted as they were collected; count only leaves
      control.regions.fetch_sub(ws.regions - ws.unreported);
      ws.regions = ws.unreported = 0;
    }
  }

  if (m >= 3) {
    const Stage& s1 = setup.stages[1];
    const auto count = static_cast<std::int64_t>(tasks.begin.size());
#pragma omp parallel for num_threads(threads) schedule(dynamic, 1)
    for (std::int64_t t = 0; t < count; ++t) {
      if (control.stop.load(std::memory_order_relaxed)) continue;
      Workspace& ws = spaces[static_cast<std::size_t>(detail::thread_index())];
      const auto i = static_cast<std::size_t>(t);
      start_polygon(ws, tasks.vertices.data() + tasks.begin[i], tasks.count[i]);
      // G_1 = W_2 D_1 G_0 + [0 | b_2] from the cell's pattern.
      const Index n1 = s1.rows;
      ws.g.assign(static_cast<std::size_t>(3 * n1), 0.0);
      std::copy_n(s1.bias, n1, ws.g.data() + 2 * n1);
      const signed char* sign = tasks.signs.data() + i * static_cast<std::size_t>(n0);
      const double slope = setup.stages[0].negative_slope;
      for (Index p = 0; p < n0; ++p) {
        const double d = sign[p] > 0 ? 1.0 : slope;
        if (d == 0) continue;
        const double* w = s1.weight + p * n1;
        const double a = d * g0[static_cast<std::size_t>(p)],
                     b = d * g0[static_cast<std::size_t>(n0 + p)],
                     c = d * g0[static_cast<std::size_t>(2 * n0 + p)];
        for (Index q = 0; q < n1; ++q) {
          ws.g[static_cast<std::size_t>(q)] += w[q] * a;
          ws.g[static_cast<std::size_t>(n1 + q)] += w[q] * b;
          ws.g[static_cast<std::size_t>(2 * n1 + q)] += w[q] * c;
        }
      }
      Enumerator e(setup, control, ws);
      e.descend(1, 0, tasks.count[i], 0);
    }
  }

  double sigma2 = 0;
  const Workspace* best = nullptr;
  for (const Workspace& ws : spaces) {
    r.regions += ws.regions;
    sigma2 = std::max(sigma2, ws.sigma2_max);
    if (ws.has_witness && (best == nullptr || ws.witness_sigma2 > best->witness_sigma2)) best = &ws;
  }
  if (best != nullptr) {
    r.lower_bound = best->lower;
    r.witness = best->witness;
  }
  r.status = static_cast<PlanarStatus>(control.reason.load());
  r.complete = r.status == PlanarStatus::complete;
  if (r.complete) {
    const double upper = std::sqrt(sigma2) * (1 + setup.sigma_relative) + setup.jacobian_error;
    r.upper_bound = std::nextafter(upper, kInfinity);
    r.lower_bound = std::min(r.lower_bound, r.upper_bound);
  }
  return finish(r);
}

}  // namespace

PlanarResult planar_lipschitz(const AffineChain& chain, const Box& domain,
                              const PlanarOptions& options) {
  validate(chain);
  if (domain.lower.size() != 2 || domain.upper.size() != 2)
    throw std::invalid_argument("planar_lipschitz needs a 2-D box: lower has " +
                                std::to_string(domain.lower.size()) + " entries, upper " +
                                std::to_string(domain.upper.size()));
  for (Index i = 0; i < 2; ++i)
    if (!(domain.lower(i) < domain.upper(i)) || !std::isfinite(domain.lower(i)) ||
        !std::isfinite(domain.upper(i)))
      throw std::invalid_argument(
          "planar_lipschitz needs a finite box with lower < upper: coordinate " +
          std::to_string(i) + " has [" + std::to_string(domain.lower(i)) + ", " +
          std::to_string(domain.upper(i)) + "]");
  const Eigen::Vector2d lo = domain.lower, hi = domain.upper;
  const double scale =
      std::max({(hi - lo).maxCoeff(), lo.cwiseAbs().maxCoeff(), hi.cwiseAbs().maxCoeff()});
  const double grow = kDomainGrowth * scale;
  const Eigen::Vector2d a = (lo.array() - grow).matrix(), b = (hi.array() + grow).matrix();
  const Eigen::Vector3d extent(std::max(std::abs(a(0)), std::abs(b(0))),
                               std::max(std::abs(a(1)), std::abs(b(1))), 1.0);
  Setup setup = make_setup(chain, extent);
  setup.box_lower = lo;
  setup.box_upper = hi;
  const std::vector<std::vector<Vertex>> domains{
      {{a(0), a(1), 1}, {b(0), a(1), 1}, {b(0), b(1), 1}, {a(0), b(1), 1}}};
  return run(chain, domains, setup, 0.5 * (lo + hi), options);
}

PlanarResult planar_lipschitz_global(const AffineChain& chain, const PlanarOptions& options) {
  validate(chain);
  const double e = kDomainGrowth;
  Setup setup = make_setup(chain, Eigen::Vector3d::Constant(1 + e));
  setup.global = true;
  std::vector<std::vector<Vertex>> domains;
  for (double sx : {1.0, -1.0})
    for (double sy : {1.0, -1.0})  // the quadrant's triangle, grown across both axes
      domains.push_back({{-sx * e, -sy * e, 1}, {sx, -sy * e, 0}, {-sx * e, sy, 0}});
  return run(chain, domains, setup, Eigen::Vector2d::Zero(), options);
}

}  // namespace lipschitz
