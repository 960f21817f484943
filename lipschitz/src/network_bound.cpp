#include <lipschitz/network_bound.hpp>

#include "parallel.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <exception>
#include <limits>
#include <sstream>

namespace lipschitz {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
/// Largest softplus jump at its threshold still treated as negligible (PyTorch's default
/// threshold 20 gives 2.1e-9).
constexpr double kSoftplusJump = 1e-8;
const double kNaN = std::numeric_limits<double>::quiet_NaN();

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

std::string number(double value) {
  std::ostringstream out;
  out.precision(6);
  out << value;
  return out.str();
}

ConvNormResult analyze(const ConvSpec& spec, const std::vector<double>& weight,
                       const NetworkBoundOptions& options) {
  if (options.double_precision) return analyze_conv<double>(spec, weight.data(), options.conv);
  return analyze_conv_in<float>(spec, weight.data(), options.conv);
}

void set_interval(LayerBound& bound, const ConvNormResult& r) {
  bound.spectral_norm = r.spectral_norm;
  bound.lower_bound = r.lower_bound;
  bound.upper_bound = r.upper_bound;
  bound.exact = r.exact;
  bound.method = to_string(r.method);
}

void set_closed_form(LayerBound& bound, double norm) {
  bound.spectral_norm = bound.lower_bound = bound.upper_bound = norm;
  bound.exact = true;
  bound.method = "closed-form";
}

// The conv weight with output channel o scaled by scale[o]: BatchNorm after the conv, folded
// (ALGORITHMS.md §6). A transposed layer's weight is (c_in, c_out/groups, k…): output channel
// g·(c_out/groups) + j for row r of group g = r / (c_in/groups).
std::vector<double> fold_output_scale(const ConvSpec& spec, std::vector<double> weight,
                                      const std::vector<double>& scale) {
  const Index taps = spec.kernel[0] * spec.kernel[1];
  const Index d0 = spec.weight_dim0, d1 = spec.weight_dim1;
  for (Index r = 0; r < d0; ++r)
    for (Index j = 0; j < d1; ++j) {
      const Index out = spec.transposed ? (r / (d0 / spec.groups)) * d1 + j : r;
      double* w = weight.data() + (r * d1 + j) * taps;
      for (Index t = 0; t < taps; ++t) w[t] *= scale[out];
    }
  return weight;
}

// How many times the most repeated input element appears in a padded dimension of size n:
// ‖P‖² for the padding operator P (its rows each pick one input, so PᵀP is diagonal).
Index max_multiplicity(PadMode mode, Index n, Index before, Index after) {
  std::vector<Index> count(n, 0);
  for (Index pos = -before; pos < n + after; ++pos) {
    Index source = pos;
    if (pos >= 0 && pos < n) {
      source = pos;
    } else if (mode == PadMode::zeros) {
      continue;
    } else if (mode == PadMode::replicate) {
      source = std::clamp<Index>(pos, 0, n - 1);
    } else if (mode == PadMode::circular) {
      source = ((pos % n) + n) % n;
    } else {  // reflect, without repeating the edge (PyTorch requires pad < n)
      const Index period = std::max<Index>(2 * (n - 1), 1);
      Index m = ((pos % period) + period) % period;
      source = m < n ? m : period - m;
    }
    ++count[source];
  }
  return count.empty() ? 1 : std::max<Index>(1, *std::max_element(count.begin(), count.end()));
}

double pad_norm(const Layer& layer) {
  const Shape& in = layer.input_shape;
  const Index w = in.back(), h = in.size() >= 3 ? in[in.size() - 2] : 1;
  const Index mh = in.size() >= 3 ? max_multiplicity(layer.pad_mode, h, layer.pads[0], layer.pads[1]) : 1;
  const Index mw = max_multiplicity(layer.pad_mode, w, layer.pads[2], layer.pads[3]);
  return std::sqrt(static_cast<double>(mh * mw));
}

// Max pooling: each output moves by at most the largest move inside its window, so
// ‖Δy‖² ≤ m‖Δx‖² with m the number of windows covering one pixel (§6): at most one window per
// tap, and at most ⌈k_eff/stride⌉ windows start close enough.
double max_pool_factor(const PoolParams& p) {
  double windows = 1;
  for (int d = 2 - p.spatial_dims; d < 2; ++d) {
    const Index effective = (p.kernel[d] - 1) * p.dilation[d] + 1;
    windows *= static_cast<double>(
        std::min<Index>(p.kernel[d], (effective + p.stride[d] - 1) / p.stride[d]));
  }
  return std::sqrt(windows);
}

}  // namespace

NetworkBound bound_network(const Network& network, const NetworkBoundOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  validate(network);
  const auto& layers = network.layers;
  const int n = static_cast<int>(layers.size());
  std::vector<std::vector<int>> consumers(n);
  for (int i = 1; i < n; ++i)
    for (int input : layers[i].inputs) consumers[input].push_back(i);
  const auto only_consumer = [&](int i) { return consumers[i].size() == 1 ? consumers[i][0] : -1; };

  NetworkBound result;
  result.layers.resize(n);
  std::vector<double> cumulative(n, 1.0);

  // The engine's work, all of it independent: each conv alone, and each conv with the
  // BatchNorm after it folded in. Run over layers in parallel, one thread each, when there
  // are several (most of a zero-padded layer's time is its Lanczos run, which scales poorly
  // with threads on small layers); one layer gets every thread.
  // BatchNorm folds into the conv (or Linear on vectors) right before it, when nothing else
  // reads the conv: BatchNorm scales dimension 1, which is the conv's output channels, but
  // not the output features of a Linear applied to (N, C, F).
  const auto folds_into = [&](int conv, int bn) {
    const Layer& c = layers[conv];
    return c.kind == LayerKind::conv && only_consumer(conv) == bn && conv != network.output &&
           (!c.linear || c.output_shape.size() == 1);
  };
  std::vector<bool> folds(n, false);
  std::vector<std::pair<int, std::vector<double>>> jobs;  // layer, weight (folded for BN)
  for (int i = 1; i < n; ++i) {
    const Layer& layer = layers[i];
    if (layer.kind == LayerKind::conv) jobs.push_back({i, {}});
    if (layer.kind == LayerKind::batch_norm) {
      const int previous = layer.inputs[0];
      if (folds_into(previous, i)) {
        folds[i] = true;
        jobs.push_back({i, fold_output_scale(layers[previous].spec, layers[previous].weight, layer.scale)});
      }
    }
  }
  std::vector<ConvNormResult> own(n);
  const int threads = detail::resolve_threads(options.conv.threads);
  const bool across_layers = threads > 1 && jobs.size() > 1;
  NetworkBoundOptions job_options = options;
  if (across_layers) job_options.conv.threads = 1;
  std::exception_ptr failure;
#pragma omp parallel for schedule(dynamic, 1) num_threads(across_layers ? threads : 1)
  for (std::size_t j = 0; j < jobs.size(); ++j) {
    try {
      const int i = jobs[j].first;
      const int conv = layers[i].kind == LayerKind::conv ? i : layers[i].inputs[0];
      const ConvSpec& spec = layers[conv].spec;
      const std::vector<double>& weight = jobs[j].second.empty() ? layers[conv].weight : jobs[j].second;
      own[i] = analyze(spec, weight, job_options);
    } catch (...) {
#pragma omp critical
      if (!failure) failure = std::current_exception();
    }
  }
  if (failure) std::rethrow_exception(failure);

  for (int i = 1; i < n; ++i) {
    const Layer& layer = layers[i];
    LayerBound& bound = result.layers[i];
    bound.spectral_norm = bound.lower_bound = bound.upper_bound = kNaN;
    bound.reshaped_weight_norm = kNaN;
    bound.note = layer.note;
    const auto add_note = [&](const std::string& text) {
      bound.note += (bound.note.empty() ? "" : "; ") + text;
    };
    switch (layer.kind) {
      case LayerKind::input: break;
      case LayerKind::conv: {
        const ConvSpec& spec = layer.spec;
        set_interval(bound, own[i]);
        bound.seconds = own[i].seconds;
        if (!layer.avg_pool)
          bound.reshaped_weight_norm =
              reshaped_weight_norm(spec, layer.weight.data(), options.conv.threads);
        bound.lipschitz_factor = bound.upper_bound;
        const int next = only_consumer(i);
        if (next > 0 && folds[next]) add_note("the BatchNorm after it is folded into its weight");
        break;
      }
      case LayerKind::batch_norm: {
        double norm = 0;
        for (double s : layer.scale) norm = std::max(norm, std::abs(s));
        set_closed_form(bound, norm);
        bound.lipschitz_factor = norm;
        const Layer& conv = layers[layer.inputs[0]];
        if (folds[i]) {
          const ConvNormResult& folded = own[i];
          bound.seconds = folded.seconds;
          bound.lipschitz_factor = folded.upper_bound;
          add_note("folded into " + conv.name + ": ‖bn∘conv‖ ∈ [" + number(folded.lower_bound) +
                   ", " + number(folded.upper_bound) + "] (product of the two: " +
                   number(norm * result.layers[layer.inputs[0]].upper_bound) +
                   "); it replaces both factors");
        }
        break;
      }
      case LayerKind::layer_norm:
        bound.lipschitz_factor = kInf;
        bound.method = "none";
        add_note("LayerNorm has no global Lipschitz constant");
        break;
      case LayerKind::activation:
        bound.lipschitz_factor = activation_lipschitz(layer.activation, layer.parameter);
        bound.method = "closed-form";
        if (layer.activation == Activation::softplus) {
          // PyTorch's softplus switches to x above βx > threshold: a jump of log1p(e^−t)/β,
          // so it has no Lipschitz constant unless the jump is negligible (t = 20: 2e-9/β).
          const double jump = std::log1p(std::exp(-layer.parameter2)) / layer.parameter;
          if (!(jump <= kSoftplusJump)) {
            bound.lipschitz_factor = kInf;
            add_note("softplus with threshold " + number(layer.parameter2) + " jumps by " +
                     number(jump) + " where it switches to the identity: not Lipschitz");
          } else if (jump > 0) {
            add_note("softplus jumps by " + number(jump) +
                     " at its threshold; the bound holds up to that additive term");
          }
        }
        break;
      case LayerKind::max_pool:
        bound.lipschitz_factor = max_pool_factor(layer.pool);
        bound.method = "closed-form";
        break;
      case LayerKind::pad:
        set_closed_form(bound, pad_norm(layer));
        bound.lipschitz_factor = bound.upper_bound;
        break;
      case LayerKind::reshape:
        set_closed_form(bound, 1);
        bound.lipschitz_factor = 1;
        break;
      case LayerKind::add:
        bound.method = "sum";
        bound.lipschitz_factor = kNaN;  // not a factor: the two branches add up
        break;
      case LayerKind::affine: {
        double norm = layer.affine_scale.values.empty() ? 1 : 0;
        for (double s : layer.affine_scale.values) norm = std::max(norm, std::abs(s));
        set_closed_form(bound, norm);
        bound.lipschitz_factor = norm;
        break;
      }
      case LayerKind::unknown:
        bound.lipschitz_factor = kInf;
        bound.method = "none";
        break;
    }
    // Lipschitz constant of input → this layer's output.
    if (layer.kind == LayerKind::add) {
      cumulative[i] = std::abs(layer.coefficients[0]) * cumulative[layer.inputs[0]] +
                      std::abs(layer.coefficients[1]) * cumulative[layer.inputs[1]];
    } else {
      // A folded BatchNorm's factor is ‖bn∘conv‖: it applies from the conv's input.
      const int from = folds[i] ? layers[layer.inputs[0]].inputs[0] : layer.inputs[0];
      const double before = cumulative[from], factor = bound.lipschitz_factor;
      // 0·∞ stays ∞: a layer without a constant is never hidden by a zero before it.
      cumulative[i] = std::isinf(factor) || std::isinf(before) ? kInf
                      : (factor == 0 || before == 0)          ? 0
                                                              : factor * before;
    }
    bound.cumulative_bound = cumulative[i];
  }
  result.layers[0].cumulative_bound = 1;
  result.layers[0].method = "input";

  // Reasons: the layers without a Lipschitz constant that the output depends on.
  std::vector<bool> needed(n, false);
  needed[network.output] = true;
  for (int i = network.output; i > 0; --i)
    if (needed[i])
      for (int input : layers[i].inputs) needed[input] = true;
  for (int i = 1; i < n; ++i) {
    if (!needed[i] || std::isfinite(result.layers[i].lipschitz_factor) ||
        layers[i].kind == LayerKind::add)
      continue;
    const Layer& layer = layers[i];
    const std::string who = "layer '" + layer.name + "' (" + layer.type + ")";
    if (layer.kind == LayerKind::layer_norm)
      result.reasons.push_back(who + ": LayerNorm is not globally Lipschitz (its constant grows "
                               "without bound as its input's variance goes to 0), so no "
                               "certified bound exists through it");
    else if (layer.kind == LayerKind::unknown)
      result.reasons.push_back(who + ": not understood" +
                               (layer.note.empty() ? std::string() : " (" + layer.note + ")") +
                               "; no certified bound through it");
    else
      result.reasons.push_back(who + ": no Lipschitz constant (" + result.layers[i].note + ")");
  }
  result.upper_bound = cumulative[network.output];
  result.certified = result.reasons.empty() && std::isfinite(result.upper_bound);
  if (!result.certified) result.upper_bound = kInf;
  result.seconds = seconds_since(start);
  return result;
}

}  // namespace lipschitz
