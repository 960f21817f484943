#include <report/lower_bound.hpp>

#include <torch/csrc/autograd/autograd.h>
#include <torch/csrc/autograd/grad_mode.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <stdexcept>

namespace lipschitz::report {
namespace {

using Forward = std::function<at::Tensor(const at::Tensor&)>;

// Per-sample Euclidean norms of a batch-first tensor, summed in double: in float32 the squares
// of entries above ~1e19 overflow, and a layer with a gain of 1e10 made the power iteration's
// norms infinite, its directions zero and the empirical lower bound 0.
at::Tensor norms(const at::Tensor& t) {
  return t.reshape({t.size(0), -1}).to(at::kDouble).norm(2, 1).to(t.scalar_type());
}

at::Tensor per_sample(const at::Tensor& values, const at::Tensor& x) {
  std::vector<int64_t> shape(x.dim(), 1);
  shape[0] = x.size(0);
  return values.reshape(shape);
}

// The local constant at every point of a batch, and the direction that attains it.
struct Local {
  at::Tensor values;      // (B): ‖∇f(x)‖, or ‖J(x)v‖ for vector outputs
  at::Tensor directions;  // (B, …): unit vectors v with ‖J v‖ = values
  bool vector_output = false;
};

// ‖∇f(x)‖ for one output per sample; for vector outputs ‖J(x)v‖ after power iterations on JᵀJ
// (v unit, so ‖Jv‖ ≤ σ₁(J(x)) ≤ L). With `create_graph` the values stay differentiable in x.
// Samples are independent (checked by check_independent_samples), so the gradient of the
// batch sum holds each sample's own gradient.
Local local_constants(const Forward& forward, const at::Tensor& x, int power_iterations,
                      at::Generator& generator, bool create_graph) {
  const at::Tensor y = forward(x);
  Local local;
  local.vector_output = y.numel() != x.size(0);
  if (!local.vector_output) {
    const at::Tensor g = torch::autograd::grad({y.sum()}, {x}, {}, true, create_graph)[0];
    local.values = norms(g);
    local.directions = (g / per_sample(local.values.clamp_min(1e-30), g)).detach();
    return local;
  }
  // J v by the double-backward trick: g(u) = Jᵀu is linear in u, and ∂⟨g(u), v⟩/∂u = J v.
  const at::Tensor u = at::zeros_like(y).requires_grad_(true);
  const at::Tensor jt_u = torch::autograd::grad({y}, {x}, {u}, true, true)[0];
  at::Tensor v = at::randn(x.sizes(), generator, x.options());
  v = v / per_sample(norms(v), v);
  for (int i = 0; i < power_iterations; ++i) {
    const at::Tensor jv = torch::autograd::grad({jt_u}, {u}, {v}, true, false)[0];
    const at::Tensor jtjv = torch::autograd::grad({y}, {x}, {jv}, true, false)[0];
    v = jtjv / per_sample(norms(jtjv).clamp_min(1e-30), jtjv);
  }
  v = v.detach();
  local.values = norms(torch::autograd::grad({jt_u}, {u}, {v}, true, create_graph)[0]);
  local.directions = v;
  return local;
}

// A model whose output for one sample depends on the rest of its batch (training-mode
// BatchNorm, minibatch statistics) has no per-sample local constant.
void check_independent_samples(const Forward& forward, const at::Tensor& x) {
  if (x.size(0) < 2) return;
  torch::NoGradGuard no_grad;
  const at::Tensor together = forward(x).narrow(0, 0, 1);
  const at::Tensor alone = forward(x.narrow(0, 0, 1));
  const double scale = 1 + together.abs().max().item<double>();
  if (together.sizes() != alone.sizes() ||
      (together - alone).abs().max().item<double>() > 1e-4 * scale)
    throw std::runtime_error("the model's output for one input depends on the other inputs of "
                             "its batch (BatchNorm in training mode?); local Lipschitz constants "
                             "per input are not defined");
}

// ‖f(x + hv) − f(x)‖ / h, a difference quotient of the model itself: ≤ L for every h > 0, as
// long as the difference is resolved. Each output carries rounding of order ε·‖f‖, so the
// difference must stand well above that: below 1e4·ε·(‖f(x)‖ + ‖f(x + hv)‖) (a small slope
// under a large output, e.g. a bias) it is rounding, not slope, and h grows by 100 (any h gives
// a valid secant; a larger one only averages the slope) until it is resolved or h reaches
// 1e4·max(1, ‖x‖). The returned value is reduced by 64·ε·(‖f(x)‖ + ‖f(x + hv)‖)/h for the
// rounding that remains; NaN if the difference was never resolved or is not finite.
double secant(const Forward& forward, const at::Tensor& x, at::Tensor v, double h, double eps) {
  torch::NoGradGuard no_grad;
  v = v / v.norm();  // unit in this precision: a float32-normalised v is off by ~1e-7
  const at::Tensor a = forward(x.unsqueeze(0));
  const double size = std::max(1.0, x.norm().item<double>());
  for (; h <= 1e4 * size; h *= 100) {
    const at::Tensor b = forward((x + h * v).unsqueeze(0));
    const double diff = (b - a).to(at::kDouble).norm().item<double>();
    const double scale =
        a.to(at::kDouble).norm().item<double>() + b.to(at::kDouble).norm().item<double>();
    if (!std::isfinite(diff) || !std::isfinite(scale)) break;
    if (diff > 1e4 * eps * scale) return (diff - 64 * eps * scale) / h;
  }
  return std::numeric_limits<double>::quiet_NaN();
}

}  // namespace

LowerBoundResult empirical_lower_bound(const Differentiable& model, const Shape& input_shape,
                                       const at::Tensor& data, const LowerBoundOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  const Forward& forward = model.forward;
  torch::AutoGradMode grad_mode(true);
  at::Generator generator = at::detail::createCPUGenerator(options.seed);
  std::vector<int64_t> sample_shape(input_shape.begin(), input_shape.end());
  const auto batch_of = [&](int64_t n) {
    std::vector<int64_t> s{n};
    s.insert(s.end(), sample_shape.begin(), sample_shape.end());
    return s;
  };

  // The candidate points, and where each came from.
  std::vector<at::Tensor> points;
  std::vector<std::string> origin;
  if (data.defined() && data.size(0) > 0) {
    const at::Tensor samples =
        data.narrow(0, 0, std::min<int64_t>(data.size(0), options.max_data)).to(at::kFloat);
    for (int64_t i = 0; i < samples.size(0); ++i) {
      points.push_back(samples[i]);
      origin.push_back("data sample " + std::to_string(i));
    }
    // Interpolates between data and random points, where WGAN-GP's penalty looks.
    const at::Tensor noise = at::randn(batch_of(samples.size(0)), generator);
    const at::Tensor t = at::rand({samples.size(0)}, generator);
    for (int64_t i = 0; i < samples.size(0); ++i) {
      points.push_back(samples[i] * t[i] + noise[i] * (1 - t[i]));
      origin.push_back("interpolate of data sample " + std::to_string(i) + " and a random point");
    }
  }
  const at::Tensor random = at::randn(batch_of(options.random_inputs), generator);
  for (int i = 0; i < options.random_inputs; ++i) {
    points.push_back(random[i]);
    origin.push_back("random input " + std::to_string(i));
  }

  LowerBoundResult result;
  if (points.empty()) return result;
  const auto out_of_time = [&] {
    const double spent =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    result.budget_reached |= options.time_budget > 0 && spent > options.time_budget;
    return result.budget_reached;
  };
  // Batches of at most ~1M input values, so that a large input (3×224×224) keeps each pass,
  // and the time between two budget checks, short.
  const std::size_t batch = static_cast<std::size_t>(std::max<Index>(
      1, std::min<Index>(options.batch,
                         (Index(1) << 20) / std::max<Index>(1, element_count(input_shape)))));
  check_independent_samples(forward, at::stack({points[0], points[points.size() > 1 ? 1 : 0]}));

  // NaN (a model that overflows somewhere) ranks last.
  const auto score_of = [](double v) { return std::isnan(v) ? -std::numeric_limits<double>::infinity() : v; };
  std::vector<double> score;
  std::vector<at::Tensor> direction;
  bool vector_output = false;
  for (std::size_t first = 0; first < points.size(); first += batch) {
    if (first > 0 && out_of_time()) break;
    const std::size_t last = std::min(points.size(), first + batch);
    const at::Tensor x =
        at::stack(std::vector<at::Tensor>(points.begin() + first, points.begin() + last))
            .detach()
            .requires_grad_(true);
    const Local local = local_constants(forward, x, options.power_iterations, generator, false);
    vector_output = local.vector_output;
    for (std::size_t i = first; i < last; ++i) {
      score.push_back(score_of(local.values[i - first].item<double>()));
      direction.push_back(local.directions[i - first]);
    }
  }
  const std::size_t evaluated = score.size();
  result.points = static_cast<int>(evaluated);
  result.method = vector_output ? "Jacobian power iteration" : "input-gradient norm";
  std::vector<std::size_t> order(evaluated);
  for (std::size_t i = 0; i < evaluated; ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](auto a, auto b) { return score[a] > score[b]; });
  at::Tensor best_point = points[order[0]], best_direction = direction[order[0]];
  double best = score[order[0]];
  result.where = origin[order[0]];

  // Gradient ascent on the local constant from the best points. Piecewise-linear networks have
  // a locally constant gradient, so a step that finds no slope becomes a random one; a step is
  // kept only where it increases the constant, and the step size halves where it does not.
  const int starts = std::min<int>({options.ascent_starts, static_cast<int>(evaluated),
                                    static_cast<int>(batch)});
  if (starts > 0 && options.ascent_steps > 0) {
    std::vector<at::Tensor> chosen, chosen_directions;
    at::Tensor value(at::empty({starts}, at::kDouble));
    for (int i = 0; i < starts; ++i) {
      chosen.push_back(points[order[i]]);
      chosen_directions.push_back(direction[order[i]]);
      value[i] = score[order[i]];
    }
    at::Tensor x = at::stack(chosen).detach(), dirs = at::stack(chosen_directions);
    const double scale = std::max(1e-3, norms(x).mean().item<double>());
    at::Tensor step = at::full({starts}, 0.1 * scale, at::kFloat);
    for (int s = 0; s < options.ascent_steps && !out_of_time(); ++s) {
      at::Tensor ascent;
      try {
        const at::Tensor xg = x.clone().requires_grad_(true);
        const Local c = local_constants(forward, xg, options.power_iterations, generator, true);
        ascent = torch::autograd::grad({c.values.sum()}, {xg}, {}, false, false, true)[0];
      } catch (const std::exception&) {
        ascent = at::Tensor();  // not twice differentiable: random steps only
      }
      if (!ascent.defined()) ascent = at::zeros_like(x);
      const at::Tensor random_direction = at::randn(x.sizes(), generator);
      const at::Tensor flat = per_sample(norms(ascent) <= 1e-12, ascent);
      ascent = at::where(flat, random_direction / per_sample(norms(random_direction), x),
                         ascent / per_sample(norms(ascent).clamp_min(1e-30), ascent));
      const at::Tensor candidate = (x + ascent * per_sample(step, x)).detach();
      const Local c = local_constants(forward, candidate.clone().requires_grad_(true),
                                      options.power_iterations, generator, false);
      const at::Tensor found = c.values.detach().to(at::kDouble).nan_to_num(-1.0);
      result.points += starts;
      const at::Tensor better = found > value;
      x = at::where(per_sample(better, x), candidate, x);
      dirs = at::where(per_sample(better, dirs), c.directions, dirs);
      value = at::where(better, found, value);
      step = at::where(better, step * 1.5, step * 0.5);
    }
    const int64_t i = value.argmax().item<int64_t>();
    if (value[i].item<double>() > best) {
      best = value[i].item<double>();
      best_point = x[i];
      best_direction = dirs[i];
      result.where = "gradient ascent from " + origin[order[i]];
    }
  }
  result.gradient = best;

  // Confirm with a difference quotient of the model along the best direction: in double when
  // the model runs in double (rounding ~1e-16·|f|/h), else in float with a larger step.
  const double size = std::max(1.0, best_point.norm().item<double>());
  double confirmed = std::numeric_limits<double>::quiet_NaN();
  if (model.forward_double) {
    try {
      confirmed = secant(model.forward_double, best_point.to(at::kDouble),
                         best_direction.to(at::kDouble), 1e-6 * size,
                         std::numeric_limits<double>::epsilon());
      if (!std::isnan(confirmed)) result.method += ", confirmed by a float64 secant";
    } catch (const std::exception&) {
    }
  }
  if (std::isnan(confirmed)) {
    confirmed = secant(forward, best_point, best_direction, 1e-2 * size,
                       std::numeric_limits<float>::epsilon());
    result.method += std::isnan(confirmed)
                         ? ", not confirmed: the secants were lost in rounding or not finite"
                         : ", confirmed by a float32 secant";
  }
  result.value = std::isfinite(confirmed) ? std::max(0.0, confirmed) : 0.0;
  result.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return result;
}

}  // namespace lipschitz::report
