#include <report/lower_bound.hpp>

#include <torch/csrc/autograd/autograd.h>
#include <torch/csrc/autograd/grad_mode.h>

#include <algorithm>
#include <chrono>

namespace lipschitz::report {
namespace {

using Forward = std::function<at::Tensor(const at::Tensor&)>;

// Per-sample Euclidean norms of a batch-first tensor.
at::Tensor norms(const at::Tensor& t) { return t.reshape({t.size(0), -1}).norm(2, 1); }

at::Tensor per_sample(const at::Tensor& values, const at::Tensor& x) {
  std::vector<int64_t> shape(x.dim(), 1);
  shape[0] = x.size(0);
  return values.reshape(shape);
}

// The local constant at every point of the batch, as a differentiable function of x when
// `create_graph`: ‖∇f(x)‖ for one output per sample; for vector outputs ‖J(x)v‖ after power
// iterations on JᵀJ (v unit, so ‖Jv‖ ≤ σ₁(J(x)) ≤ L). Samples are independent: the model is
// in eval mode, so the gradient of the batch sum holds each sample's own gradient.
at::Tensor local_constants(const Forward& forward, const at::Tensor& x, int power_iterations,
                           at::Generator& generator, bool create_graph) {
  const at::Tensor y = forward(x);
  const int64_t outputs = y.numel() / std::max<int64_t>(1, x.size(0));
  if (outputs == 1) {
    const at::Tensor g = torch::autograd::grad({y.sum()}, {x}, {}, create_graph, create_graph)[0];
    return norms(g);
  }
  // J v by the double-backward trick: g(u) = Jᵀu is linear in u, and ∂⟨g(u), v⟩/∂u = J v.
  const at::Tensor u = at::zeros_like(y).requires_grad_(true);
  const at::Tensor jt_u = torch::autograd::grad({y}, {x}, {u}, true, true)[0];
  at::Tensor v = at::randn(x.sizes(), generator, x.options());
  v = v / per_sample(norms(v), v);
  at::Tensor jv;
  for (int i = 0; i < power_iterations; ++i) {
    jv = torch::autograd::grad({jt_u}, {u}, {v}, true, false)[0];
    const at::Tensor jtjv = torch::autograd::grad({y}, {x}, {jv}, true, false)[0];
    v = jtjv / per_sample(norms(jtjv).clamp_min(1e-30), jtjv);
  }
  jv = torch::autograd::grad({jt_u}, {u}, {v.detach()}, true, create_graph)[0];
  return norms(jv);
}

}  // namespace

LowerBoundResult empirical_lower_bound(const Forward& forward, const Shape& input_shape,
                                       const at::Tensor& data, const LowerBoundOptions& options) {
  const auto start = std::chrono::steady_clock::now();
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
  at::Tensor samples;
  if (data.defined() && data.size(0) > 0) {
    samples = data.narrow(0, 0, std::min<int64_t>(data.size(0), options.max_data)).to(at::kFloat);
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
  const auto out_of_time = [&] {
    const double spent =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    result.budget_reached |= options.time_budget > 0 && spent > options.time_budget;
    return result.budget_reached;
  };
  std::vector<double> score(points.size(), 0);
  std::size_t evaluated = 0;
  // Batches of at most ~1M input values, so that a large input (3×224×224) keeps each pass,
  // and the time between two budget checks, short.
  const std::size_t batch = static_cast<std::size_t>(std::max<Index>(
      1, std::min<Index>(options.batch, (Index(1) << 20) / std::max<Index>(1, element_count(input_shape)))));
  bool vector_output = false;
  for (std::size_t first = 0; first < points.size(); first += batch) {
    if (first > 0 && out_of_time()) break;
    const std::size_t last = std::min(points.size(), first + batch);
    std::vector<at::Tensor> chunk(points.begin() + first, points.begin() + last);
    const at::Tensor x = at::stack(chunk).detach().requires_grad_(true);
    vector_output = forward(x).numel() != x.size(0);
    const at::Tensor c = local_constants(forward, x, options.power_iterations, generator, false);
    for (std::size_t i = first; i < last; ++i) score[i] = c[i - first].item<double>();
    evaluated = last;
  }
  points.resize(evaluated);
  origin.resize(evaluated);
  score.resize(evaluated);
  result.points = static_cast<int>(evaluated);
  result.method = vector_output ? "Jacobian power iteration" : "input-gradient norm";
  std::vector<std::size_t> order(points.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](auto a, auto b) { return score[a] > score[b]; });
  if (!order.empty()) {
    result.value = score[order[0]];
    result.where = origin[order[0]];
  }

  // Gradient ascent on the local constant from the best points. Piecewise-linear networks have
  // a locally constant gradient, so a step that finds no slope becomes a random one; a step is
  // kept only where it increases the constant, and the step size halves where it does not.
  const int starts = std::min<int>({options.ascent_starts, static_cast<int>(order.size()),
                                    static_cast<int>(batch)});
  if (starts > 0 && options.ascent_steps > 0) {
    std::vector<at::Tensor> chosen;
    for (int i = 0; i < starts; ++i) chosen.push_back(points[order[i]]);
    at::Tensor x = at::stack(chosen).detach();
    at::Tensor best(at::empty({starts}, at::kDouble));
    for (int i = 0; i < starts; ++i) best[i] = score[order[i]];
    const double scale = std::max(1e-3, norms(x).mean().item<double>());
    at::Tensor step = at::full({starts}, 0.1 * scale, at::kFloat);
    for (int s = 0; s < options.ascent_steps && !out_of_time(); ++s) {
      at::Tensor direction;
      try {
        const at::Tensor xg = x.clone().requires_grad_(true);
        const at::Tensor c = local_constants(forward, xg, options.power_iterations, generator, true);
        direction = torch::autograd::grad({c.sum()}, {xg}, {}, false, false, true)[0];
      } catch (const std::exception&) {
        direction = at::Tensor();  // not twice differentiable: random steps only
      }
      if (!direction.defined()) direction = at::zeros_like(x);
      const at::Tensor length = per_sample(norms(direction), direction);
      const at::Tensor random_direction = at::randn(x.sizes(), generator);
      const at::Tensor flat = per_sample(norms(direction) <= 1e-12, direction);
      direction = at::where(flat, random_direction / per_sample(norms(random_direction), x),
                            direction / length.clamp_min(1e-30));
      const at::Tensor candidate = (x + direction * per_sample(step, x)).detach();
      const at::Tensor xc = candidate.clone().requires_grad_(true);
      const at::Tensor c =
          local_constants(forward, xc, options.power_iterations, generator, false).detach().to(at::kDouble);
      result.points += starts;
      const at::Tensor better = c > best;
      x = at::where(per_sample(better, x), candidate, x);
      best = at::where(better, c, best);
      step = at::where(better, step * 1.5, step * 0.5);
    }
    const int64_t i = best.argmax().item<int64_t>();
    if (best[i].item<double>() > result.value) {
      result.value = best[i].item<double>();
      result.where = "gradient ascent from " + origin[order[i]];
    }
  }
  result.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return result;
}

}  // namespace lipschitz::report
