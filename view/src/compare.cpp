// Comparison pages: several runs in one page — Gulrajani et al. (2017), Figure 1a (critic value
// surfaces) and Figure 1b (per-layer gradient norms, weights), and sample quality over time.

#include <view/compare.hpp>

#include "html_parts.hpp"

#include <view/axis.hpp>
#include <view/encoding.hpp>
#include <view/svg_chart.hpp>

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <filesystem>
#include <functional>
#include <map>
#include <set>

namespace lipschitz::view {
namespace {

namespace fs = std::filesystem;
using detail::column;
using detail::Column;
using detail::config_value;
using detail::duration;
using detail::fact;
using detail::PageBuilder;

std::string esc(const std::string& s) { return xml_escape(s); }
std::string f3(double v) { return format_number(v, 3); }
std::string f4(double v) { return format_number(v, 4); }

// ---------------------------------------------------------------------------------------------
// Labels

/// The parts a run's label is made of, in label order.
enum Part { kObjective, kData, kModel, kGenerator, kSteps, kParts };

std::string data_name(const RunConfig& c) {
  static const std::map<std::string, std::string> kNames = {{"8gaussians", "8 Gaussians"},
                                                            {"25gaussians", "25 Gaussians"},
                                                            {"swissroll", "Swiss roll"},
                                                            {"fashion-mnist", "Fashion-MNIST"},
                                                            {"mnist", "MNIST"}};
  const auto it = kNames.find(c.data);
  if (it != kNames.end()) return it->second;
  if (!c.data_description.empty()) return c.data_description;
  return c.data.empty() ? "unknown data" : c.data;
}

std::string objective_part(const RunConfig& c) {
  std::string s;
  if (c.objective == "wgan")
    s = "weight clipping c = " + f3(c.clip);
  else if (c.objective == "wgan-gp")
    s = std::string(c.one_sided ? "one-sided penalty" : "gradient penalty") +
        " λ = " + f3(c.lambda);
  else if (c.objective == "gan")
    s = "GAN";
  else
    s = c.objective.empty() ? "unknown objective" : c.objective;
  if (c.critic_norm == "layernorm") s += " + LayerNorm";
  return s;
}

std::string model_part(const RunConfig& c) {
  if (c.model == "mlp")
    return c.depth > 0 && c.width > 0
               ? "MLP " + std::to_string(c.depth) + "×" + std::to_string(c.width)
               : std::string("MLP");
  if (c.model == "dcgan")
    return c.width > 0 ? "DCGAN width " + std::to_string(c.width) : std::string("DCGAN");
  return c.model.empty() ? "unknown model" : c.model;
}

std::array<std::string, kParts> parts_of(const RunConfig& c) {
  std::array<std::string, kParts> p;
  p[kObjective] = objective_part(c);
  p[kData] = data_name(c);
  p[kModel] = model_part(c);
  p[kGenerator] = c.fixed_generator ? "fixed generator" : "trained generator";
  p[kSteps] = std::to_string(c.steps) + " steps";
  return p;
}

/// A run's label as its parts: (Part, text), or (kParts, text) for a disambiguating entry.
using LabelParts = std::vector<std::pair<int, std::string>>;

std::string join(const LabelParts& parts, int except = -1) {
  std::string s;
  for (const auto& [kind, text] : parts)
    if (kind != except) s += (s.empty() ? "" : ", ") + text;
  return s;
}

std::array<bool, kParts> varying_parts(const std::vector<RunConfig>& configs) {
  std::array<bool, kParts> varies{};
  if (configs.empty()) return varies;
  const auto first = parts_of(configs[0]);
  for (const RunConfig& c : configs) {
    const auto p = parts_of(c);
    for (int k = 0; k < kParts; ++k) varies[k] = varies[k] || p[k] != first[k];
  }
  return varies;
}

std::vector<LabelParts> label_parts(const std::vector<RunConfig>& configs) {
  const auto varies = varying_parts(configs);
  std::vector<LabelParts> labels;
  for (const RunConfig& c : configs) {
    const auto p = parts_of(c);
    LabelParts l;
    for (int k = 0; k < kParts; ++k)
      if (varies[k]) l.emplace_back(k, p[k]);
    if (l.empty()) l.emplace_back(kObjective, p[kObjective]);
    labels.push_back(std::move(l));
  }
  // Runs alike in every part: add the config.json entries that differ within each such group.
  const std::vector<LabelParts> before = labels;
  for (std::size_t i = 0; i < configs.size(); ++i) {
    std::vector<std::size_t> group;
    for (std::size_t j = 0; j < configs.size(); ++j)
      if (join(before[j]) == join(before[i])) group.push_back(j);
    if (group.size() < 2) continue;
    std::vector<std::string> keys;
    for (std::size_t j : group)
      for (const auto& [key, value] : configs[j].entries) {
        if (std::find(keys.begin(), keys.end(), key) != keys.end()) continue;
        for (std::size_t m : group)
          if (config_value(configs[m], key) != value) {
            keys.push_back(key);
            break;
          }
      }
    for (std::size_t k = 0; k < keys.size() && k < 3; ++k) {
      const std::string v = config_value(configs[i], keys[k]);
      labels[i].emplace_back(kParts, keys[k] + " " + (v.empty() ? "–" : v));
    }
  }
  // Identical configurations: number them.
  std::map<std::string, int> seen;
  for (auto& l : labels) {
    const int n = ++seen[join(l)];
    if (n > 1) l.emplace_back(kParts, "#" + std::to_string(n));
  }
  return labels;
}

// ---------------------------------------------------------------------------------------------
// Columns of records


/// One series per run (empty for a run without the values), so a run keeps its colour in every
/// chart: series i takes palette colour i.
Series run_series(const std::string& label, Column c, bool markers = false) {
  Series s;
  s.label = label;
  s.x = std::move(c.x);
  s.y = std::move(c.y);
  s.markers = markers;
  return s;
}

std::string dot(std::size_t run) {
  return "<span class=\"dot\" style=\"background: " + palette_colour(static_cast<int>(run)) +
         (run >= 8 ? "; outline: 1px dashed #555" : "") + "\"></span>";
}

/// The newest record with a finite, positive activation gradient norm for some layer.
const Record* last_with_layer_grads(const std::vector<Record>& records) {
  for (auto it = records.rbegin(); it != records.rend(); ++it)
    for (const LayerStats& l : it->layers)
      if (std::isfinite(l.activation_grad_norm) && l.activation_grad_norm > 0) return &*it;
  return nullptr;
}

const Record* last_with_histograms(const std::vector<Record>& records) {
  for (auto it = records.rbegin(); it != records.rend(); ++it)
    if (!it->weight_histograms.empty()) return &*it;
  return nullptr;
}

// ---------------------------------------------------------------------------------------------
// The page

struct Context {
  const std::vector<RunData>& runs;
  std::vector<std::string> labels;
  std::vector<LabelParts> parts;
  std::string shared;
};

std::string status_of(const RunData& run) {
  if (!run.summary) return "running";
  return run.summary->status.empty() ? "unknown" : run.summary->status;
}

double train_seconds(const RunData& run) {
  if (run.summary && std::isfinite(run.summary->train_seconds)) return run.summary->train_seconds;
  return run.records.back().value("seconds");
}

/// The runs table: a colour dot, the label, the directory, status, steps and time, then the
/// figure's own columns (HTML cells).
std::string runs_table(const Context& ctx, const std::vector<std::string>& extra_heads,
                       const std::vector<std::vector<std::string>>& extra_cells) {
  std::string h =
      "<div class=\"scroll\"><table class=\"runs\">\n<tr><th></th><th class=\"l\">run "
      "(directory)</th><th class=\"l\">status</th><th>steps</th><th>training time</th>";
  for (const std::string& e : extra_heads) h += "<th>" + e + "</th>";
  h += "</tr>\n";
  for (std::size_t i = 0; i < ctx.runs.size(); ++i) {
    const RunData& r = ctx.runs[i];
    h += "<tr><td class=\"swatch\">" + dot(i) + "</td><td class=\"l\">" + esc(ctx.labels[i]) +
         "<code class=\"dir\">" + esc(r.dir) + "</code></td><td class=\"l\">" + esc(status_of(r)) +
         "</td><td>" + std::to_string(r.records.back().step) + " / " +
         std::to_string(r.config.steps) + "</td><td>" + esc(duration(train_seconds(r))) + "</td>";
    if (i < extra_cells.size())
      for (const std::string& c : extra_cells[i]) h += "<td>" + c + "</td>";
    h += "</tr>\n";
  }
  return h + "</table></div>\n";
}

std::string header(const Context& ctx, const std::string& title, const std::string& lead) {
  std::string h = "<header>\n<h1>" + esc(title) + "</h1>\n<p class=\"sub\">" +
                  std::to_string(ctx.runs.size()) + (ctx.runs.size() == 1 ? " run" : " runs") +
                  (ctx.shared.empty() ? "" : " · all: " + esc(ctx.shared)) + "</p>\n";
  if (!lead.empty()) h += "<p class=\"note\">" + lead + "</p>\n";
  return h + "</header>\n";
}

// --- surfaces (Figure 1a) ---------------------------------------------------------------------

int objective_rank(const RunConfig& c) {
  if (c.objective == "wgan") return 0;     // the paper: weight clipping above …
  if (c.objective == "wgan-gp") return 1;  // … the gradient penalty below
  if (c.objective == "gan") return 2;
  return 3;
}

std::string surfaces_body(const Context& ctx, PageBuilder& b) {
  const auto& runs = ctx.runs;
  std::vector<CriticSurface> surfaces;
  for (const RunData& r : runs) {
    std::error_code ec;
    if (r.surfaces.empty() || !fs::exists(r.surfaces.back().path, ec))
      throw ComparisonError(r.dir +
                            ": no critic surface (samples/surface_step_N.json): --figure surfaces "
                            "needs runs on 2-D data (8gaussians, 25gaussians, swissroll) with "
                            "samples written (--sample-every)");
    surfaces.push_back(read_surface(r.surfaces.back().path));
    if (surfaces.back().step == 0) surfaces.back().step = r.surfaces.back().step;
  }
  // Columns: the data sets, in the paper's order; rows: the settings other than the data.
  static const std::vector<std::string> kOrder = {"8gaussians", "25gaussians", "swissroll"};
  std::vector<std::string> data;
  for (const std::string& d : kOrder)
    for (const RunData& r : runs)
      if (r.config.data == d && std::find(data.begin(), data.end(), d) == data.end())
        data.push_back(d);
  for (const RunData& r : runs)
    if (std::find(data.begin(), data.end(), r.config.data) == data.end())
      data.push_back(r.config.data);
  std::vector<std::string> rows;
  std::vector<int> row_rank;
  std::vector<std::string> row_of(runs.size());
  for (std::size_t i = 0; i < runs.size(); ++i) {
    std::string key = join(ctx.parts[i], kData);
    if (key.empty()) key = objective_part(runs[i].config);
    row_of[i] = key;
    if (std::find(rows.begin(), rows.end(), key) == rows.end()) {
      rows.push_back(key);
      row_rank.push_back(objective_rank(runs[i].config));
    }
  }
  std::vector<std::size_t> order(rows.size());
  for (std::size_t k = 0; k < order.size(); ++k) order[k] = k;
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t x, std::size_t y) { return row_rank[x] < row_rank[y]; });
  std::vector<std::string> sorted_rows;
  for (std::size_t k : order) sorted_rows.push_back(rows[k]);

  ChartGrid g;
  g.id = "surfaces";
  g.title = "Critic value surfaces (Gulrajani et al. 2017, Figure 1a)";
  g.columns = static_cast<int>(data.size());
  g.row_titles = sorted_rows;
  g.cells.assign(sorted_rows.size() * data.size(), "");
  g.point_legend = true;
  bool all_fixed = true;
  for (const RunData& r : runs) all_fixed = all_fixed && r.config.fixed_generator;
  g.fake_label = all_fixed ? "fixed generator: real data + N(0, 1) noise" : "generated";
  g.empty_text = "no run";
  for (std::size_t i = 0; i < runs.size(); ++i) {
    const std::size_t row = static_cast<std::size_t>(
        std::find(sorted_rows.begin(), sorted_rows.end(), row_of[i]) - sorted_rows.begin());
    const std::size_t col = static_cast<std::size_t>(
        std::find(data.begin(), data.end(), runs[i].config.data) - data.begin());
    const CriticSurface& s = surfaces[i];
    Heatmap h;
    h.id = "surface_" + std::to_string(i);
    h.title = data_name(runs[i].config);  // the row's heading says the rest
    h.x_label = "";
    h.y_label = "";
    h.value_label = "D(x), step " + std::to_string(s.step);
    h.legend = false;
    h.plot_size = 300;
    h.max_points = 256;  // per set: enough to show the points, few enough to see the surface
    h.x_min = s.x_min, h.x_max = s.x_max, h.y_min = s.y_min, h.y_max = s.y_max;
    h.columns = h.rows = s.resolution;
    h.values = s.values;
    h.real = s.real;
    h.fake = s.fake;
    std::string& cell = g.cells[row * data.size() + col];
    if (cell.empty()) cell = render_heatmap(h);
  }
  b.begin_section("figure", "Critic value surfaces");
  b.figure(g.id, g.title, render_chart_grid(g),
           std::string("The critic's value D(x) over the plane (viridis, with contour lines at the "
                       "colour bar's ticks), the real data (white) and ") +
               (all_fixed ? "the “generated” points: a fixed generator, the real data plus N(0, 1) "
                            "noise, as <code>FIXED_GENERATOR</code> in the paper's "
                            "<code>gan_toy.py</code>, so each critic is trained towards optimality "
                            "against a fixed target"
                          : "the generated points (vermillion) at the same step") +
               ". In the paper, weight clipping (top) gives critics that miss the shape of the "
               "data, they “fail to capture higher moments of the data distribution”, while the "
               "gradient penalty (bottom) follows it. Each panel has its own colour scale, since "
               "the critics differ in scale by orders of magnitude (a clipped critic's is set by "
               "c): compare the shapes and the spacing of the contours, not the colours.",
           true);
  b.end_section();

  std::vector<std::vector<std::string>> cells;
  for (std::size_t i = 0; i < runs.size(); ++i) {
    const CriticSurface& s = surfaces[i];
    double lo = HUGE_VAL, hi = -HUGE_VAL;
    for (double v : s.values)
      if (std::isfinite(v)) lo = std::min(lo, v), hi = std::max(hi, v);
    const Record& last = runs[i].records.back();
    cells.push_back({std::to_string(s.step), lo <= hi ? f3(lo) + " … " + f3(hi) : "–",
                     f3(last.value("grad_norm_mean")), f4(last.value("critic_upper_bound")),
                     f4(last.value("wasserstein_estimate"))});
  }
  return runs_table(
      ctx, {"surface at step", "D(x) range", "E‖∇D(x̂)‖", "certified Lip(D) ≤", "W estimate"},
      cells);
}

// --- gradients (Figure 1b) --------------------------------------------------------------------

std::string gradients_body(const Context& ctx, PageBuilder& b) {
  const auto& runs = ctx.runs;
  std::vector<const Record*> at;
  for (const RunData& r : runs) {
    const Record* rec = last_with_layer_grads(r.records);
    if (!rec)
      throw ComparisonError(r.dir +
                            ": no per-layer gradient norms (layer_grad_norms) in metrics.jsonl: "
                            "--figure gradients needs records written by the monitor");
    at.push_back(rec);
  }
  // The x axis: the layer names when every run's are a prefix of the longest list, else 1, 2, …
  std::vector<std::string> longest;
  for (const Record* r : at)
    if (r->layers.size() > longest.size()) {
      longest.clear();
      for (const LayerStats& l : r->layers) longest.push_back(l.name);
    }
  bool same_names = true;
  for (const Record* r : at)
    for (std::size_t k = 0; k < r->layers.size(); ++k)
      same_names = same_names && r->layers[k].name == longest[k];
  std::vector<std::string> categories = longest;
  if (!same_names)
    for (std::size_t k = 0; k < categories.size(); ++k) categories[k] = std::to_string(k + 1);

  LayerProfile p;
  p.id = "layer_grad_profile";
  p.title = "Gradient norm at each layer, last record";
  p.y_label = "‖∂L/∂hₗ‖ (log scale)";
  p.layers = categories;
  p.width = 640;
  p.height = 470;
  for (std::size_t i = 0; i < runs.size(); ++i) {
    std::vector<double> v;
    for (const LayerStats& l : at[i]->layers) v.push_back(l.activation_grad_norm);
    v.resize(categories.size(), kMissing);
    p.lines.emplace_back(ctx.labels[i], std::move(v));
  }

  // Weights: each run's last record with histograms, pooled over the layers.
  std::vector<std::string> hist_cells;
  for (std::size_t i = 0; i < runs.size(); ++i) {
    const Record* rec =
        !at[i]->weight_histograms.empty() ? at[i] : last_with_histograms(runs[i].records);
    if (!rec) continue;
    Histogram h = pool_weight_histograms(rec->weight_histograms, 60);
    if (h.counts.empty()) continue;
    h.id = "weights_" + std::to_string(i);
    h.title = ctx.labels[i];
    h.x_label = "weight, all layers (step " + std::to_string(rec->step) + ")";
    h.colour = static_cast<int>(i);
    h.width = 330;
    h.height = 220;
    if (runs[i].config.objective == "wgan" && runs[i].config.clip > 0)
      h.markers = {{-runs[i].config.clip, "−c"}, {runs[i].config.clip, "+c"}};
    hist_cells.push_back(render_histogram(h));
  }

  ChartGrid g;
  g.id = "gradients";
  g.title = "Per-layer gradient norms and weights (Gulrajani et al. 2017, Figure 1b)";
  g.columns = hist_cells.empty() ? 1 : 2;
  g.cells.push_back(render_layer_profile(p));
  if (!hist_cells.empty()) {
    ChartGrid w;
    w.id = "weight_histograms";
    w.title = "Weights, pooled over the layers";
    w.columns = hist_cells.size() > 1 ? 2 : 1;
    w.cells = hist_cells;
    g.cells.push_back(render_chart_grid(w));
  }
  // A norm of exactly 0 (float32 underflow deep in a vanishing network) has no place on a log
  // axis: the caption says where it was.
  std::string zeros;
  for (std::size_t i = 0; i < runs.size(); ++i) {
    std::string names;
    for (std::size_t k = 0; k < at[i]->layers.size(); ++k)
      if (at[i]->layers[k].activation_grad_norm == 0)
        names += (names.empty() ? "" : ", ") + categories[k];
    if (!names.empty()) zeros += (zeros.empty() ? "" : "; ") + esc(ctx.labels[i]) + " at " + names;
  }
  b.begin_section("figure", "Gradient norms across the layers and the weights");
  b.figure(g.id, g.title, render_chart_grid(g),
           "Left: the norm of the critic loss's gradient with respect to each layer's activation "
           "hₗ, from the input (left) to the output (right), at each run's last record, on a log "
           "scale" +
               std::string(same_names ? ""
                                      : " (layers numbered from the input: the runs' layer "
                                        "names differ)") +
               ". Under weight clipping the norms fall (c small: vanishing) or rise (c large: "
               "exploding) geometrically toward the input; under the gradient penalty they stay "
               "within a small factor." +
               (zeros.empty() ? std::string()
                              : " Not drawn: norms of exactly 0, where the gradient underflowed "
                                "float32 (" +
                                    zeros + ").") +
               " Right: the weights of all layers, one histogram per run. Clipping piles the "
               "weights up at ±c; the penalty leaves a bell shape.",
           true);
  b.end_section();

  // Over time: the first-to-last-layer ratio, and the share of weights at ±c.
  b.begin_section("time", "Over training");
  b.raw("<div class=\"grid\">\n");
  {
    LineChart c;
    c.id = "grad_ratio";
    c.title = "Gradient norm ratio, first / last layer";
    c.x_label = "step";
    c.y_label = "ratio (log scale)";
    c.y_scale = AxisScale::kLog;
    c.reference_lines.push_back({1.0, "1"});
    for (std::size_t i = 0; i < runs.size(); ++i)
      c.series.push_back(run_series(ctx.labels[i], column(runs[i].records, [](const Record& r) {
                                      if (r.layers.size() < 2) return kMissing;
                                      return r.layers.front().activation_grad_norm /
                                             r.layers.back().activation_grad_norm;
                                    })));
    bool zero = false;
    for (const Series& se : c.series)
      for (double v : se.y) zero = zero || v == 0;
    if (has_data(c))
      b.figure(c.id, c.title, render_line_chart(c),
               std::string("Below 1 the gradient shrinks on its way to the input (vanishing), "
                           "above 1 it grows (exploding).") +
                   (zero ? " A ratio of 0 (the first layer's gradient underflowed float32) is "
                           "a gap."
                         : ""));
  }
  bool any_clip = false;
  for (const RunData& r : runs) any_clip = any_clip || r.config.objective == "wgan";
  if (any_clip) {
    LineChart c;
    c.id = "weight_at_clip";
    c.title = "Share of weights at ±c";
    c.x_label = "step";
    c.y_label = "% of the weights, all layers";
    c.y_min = 0;
    c.y_max = 100;
    for (std::size_t i = 0; i < runs.size(); ++i)
      c.series.push_back(
          run_series(ctx.labels[i], runs[i].config.objective != "wgan"
                                        ? Column{}
                                        : column(runs[i].records, [](const Record& r) {
                                            double sum = 0;
                                            int n = 0;
                                            for (const LayerStats& l : r.layers)
                                              if (std::isfinite(l.weight_at_clip))
                                                sum += l.weight_at_clip, ++n;
                                            return n ? 100 * sum / n : kMissing;
                                          })));
    if (has_data(c))
      b.figure(c.id, c.title, render_line_chart(c),
               "The mean over the layers. Near 100 % the critic is close to a network of ±c "
               "weights.");
  }
  b.raw("</div>\n");
  b.end_section();

  std::vector<std::vector<std::string>> cells;
  for (std::size_t i = 0; i < runs.size(); ++i) {
    const auto& layers = at[i]->layers;
    const double first = layers.front().activation_grad_norm;
    const double last = layers.back().activation_grad_norm;
    double at_clip = 0;
    int n = 0;
    for (const LayerStats& l : layers)
      if (std::isfinite(l.weight_at_clip)) at_clip += l.weight_at_clip, ++n;
    cells.push_back({std::to_string(at[i]->step), std::to_string(layers.size()), f3(first),
                     f3(last), f3(first / last),
                     runs[i].config.objective == "wgan" && n
                         ? format_number(100 * at_clip / n, 3) + " %"
                         : std::string("–")});
  }
  return runs_table(
      ctx,
      {"record", "layers", "‖∂L/∂h‖ first layer", "‖∂L/∂h‖ last layer", "ratio", "weights at ±c"},
      cells);
}

// --- quality ----------------------------------------------------------------------------------

std::string quality_body(const Context& ctx, PageBuilder& b) {
  const auto& runs = ctx.runs;
  const std::size_t n = runs.size();
  std::set<std::string> objectives;
  bool any_mixture = false, any_gp = false;
  std::set<int> mode_totals;
  for (const RunData& r : runs) {
    objectives.insert(r.config.objective);
    any_mixture = any_mixture || r.config.is_mixture();
    any_gp = any_gp || r.config.objective == "wgan-gp";
    if (r.config.is_mixture()) mode_totals.insert(r.config.modes_total());
  }
  const bool mixed_objectives = objectives.size() > 1;
  // Evaluations of saved checkpoints (eval_step_N.json).
  std::vector<std::vector<EvalRecord>> evals(n);
  for (std::size_t i = 0; i < n; ++i)
    for (const EvalFile& f : runs[i].evals) evals[i].push_back(read_eval(f.path, f.step));
  const auto eval_column = [&](std::size_t i, const std::string& key) {
    Column c;
    for (const EvalRecord& e : evals[i]) {
      c.x.push_back(static_cast<double>(e.step));
      c.y.push_back(e.value(key));
    }
    return c;
  };
  const auto chart = [&](const std::string& id, const std::string& title,
                         const std::string& y_label, AxisScale scale,
                         const std::function<Column(std::size_t)>& get, bool markers = false) {
    LineChart c;
    c.id = id;
    c.title = title;
    c.x_label = "step";
    c.y_label = y_label;
    c.y_scale = scale;
    for (std::size_t i = 0; i < n; ++i)
      c.series.push_back(run_series(ctx.labels[i], get(i), markers));
    return c;
  };
  const auto key_of = [&](const std::string& key) {
    return [&runs, key](std::size_t i) {
      return column(runs[i].records, [&key](const Record& r) { return r.value(key); });
    };
  };

  b.begin_section("training", "Training curves",
                  mixed_objectives
                      ? "The objectives' critics live on different scales (a clipped critic's is "
                        "set by c, a penalised critic's by the penalty, a GAN critic's output is a "
                        "logit): W estimates and losses are not comparable across objectives, only "
                        "their shapes are."
                      : "");
  b.raw("<div class=\"grid\">\n");
  {
    LineChart c = chart("wasserstein", "Wasserstein estimate E[D(x)] − E[D(G(z))]", "W estimate",
                        AxisScale::kLinear, key_of("wasserstein_estimate"));
    if (has_data(c))
      b.figure(c.id, c.title, render_line_chart(c),
               mixed_objectives ? "Not comparable across objectives: each critic has its own scale."
                                : "On training data.");
  }
  {
    std::string loss_caption;
    for (const auto& [objective, meaning] : std::vector<std::pair<std::string, std::string>>{
             {"wgan-gp", "−W plus the penalty under WGAN-GP"},
             {"wgan", "−W under weight clipping"},
             {"gan", "the cross-entropy under GAN"}})
      if (objectives.count(objective)) loss_caption += (loss_caption.empty() ? "" : ", ") + meaning;
    if (loss_caption.empty()) loss_caption = "The critic's loss";
    loss_caption[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(loss_caption[0])));
    LineChart c =
        chart("critic_loss", "Critic loss", "loss", AxisScale::kLinear, key_of("critic_loss"));
    if (has_data(c))
      b.figure(c.id, c.title, render_line_chart(c),
               loss_caption + (mixed_objectives ? ": not comparable across objectives." : "."));
  }
  b.raw("</div>\n");
  b.end_section();

  bool any_fid = false, any_is = false;
  for (std::size_t i = 0; i < n; ++i)
    for (const EvalRecord& e : evals[i]) {
      any_fid = any_fid || std::isfinite(e.value("frechet_distance"));
      any_is = any_is || std::isfinite(e.value("inception_score"));
    }
  if (any_mixture || any_fid || any_is) {
    b.begin_section("quality", "Sample quality");
    b.raw("<div class=\"grid\">\n");
    if (any_mixture) {
      const bool counts = mode_totals.size() == 1;
      const int total = counts ? *mode_totals.begin() : 0;
      LineChart c = chart(
          "modes_covered", "Modes covered",
          counts ? "modes (of " + std::to_string(total) + ")" : "% of the modes",
          AxisScale::kLinear, [&](std::size_t i) {
            if (!runs[i].config.is_mixture()) return Column{};
            const double scale = counts ? 1.0 : 100.0 / runs[i].config.modes_total();
            return column(runs[i].records,
                          [scale](const Record& r) { return scale * r.value("modes_covered"); });
          });
      c.y_min = 0;
      c.y_max = 1.04 * (counts ? total : 100);  // a line at "all modes" clears the frame
      if (has_data(c))
        b.figure(c.id, c.title, render_line_chart(c),
                 "A mode counts as covered when it holds a high-quality sample (2,500 samples per "
                 "record).");
      LineChart q = chart("high_quality", "High-quality samples", "% within 3σ of a mode",
                          AxisScale::kLinear, [&](std::size_t i) {
                            if (!runs[i].config.is_mixture()) return Column{};
                            return column(runs[i].records, [](const Record& r) {
                              return 100 * r.value("high_quality_fraction");
                            });
                          });
      q.y_min = 0;
      q.y_max = 100;
      if (has_data(q))
        b.figure(q.id, q.title, render_line_chart(q),
                 "Samples within 3 standard deviations of a mode's centre. Real data: 98.9 %.");
    }
    if (any_fid) {
      LineChart c = chart(
          "fid", "Classifier FID (lower is better)", "FID (log scale)", AxisScale::kLog,
          [&](std::size_t i) { return eval_column(i, "frechet_distance"); }, true);
      b.figure(c.id, c.title, render_line_chart(c),
               "Fréchet distance between generated and test images in the feature space of the "
               "project's classifier (<code>lipschitz eval</code> of checkpoints, files "
               "<code>eval_step_N.json</code>). Not comparable with the Inception FID of papers.");
    }
    if (any_is) {
      LineChart c = chart(
          "inception_score", "Inception-style score (higher is better)", "score",
          AxisScale::kLinear, [&](std::size_t i) { return eval_column(i, "inception_score"); },
          true);
      b.figure(c.id, c.title, render_line_chart(c),
               "exp(E KL(p(y|x) ‖ p(y))) with the project's classifier.");
    }
    b.raw("</div>\n");
    b.end_section();
  }

  b.begin_section("critic", "The critic");
  b.raw("<div class=\"grid\">\n");
  {
    LineChart c = chart("grad_norm", "Gradient norm at interpolates E‖∇D(x̂)‖", "‖∇ₓD‖ (log scale)",
                        AxisScale::kLog, key_of("grad_norm_mean"));
    if (any_gp) c.reference_lines.push_back({1.0, "WGAN-GP target 1"});
    if (has_data(c))
      b.figure(c.id, c.title, render_line_chart(c),
               "The mean over points on lines between real and generated samples. WGAN-GP pulls it "
               "toward 1.");
  }
  {
    LineChart c = chart("critic_bound", "Certified bound on Lip(D)", "product of σ₁ (log scale)",
                        AxisScale::kLog, key_of("critic_upper_bound"));
    if (has_data(c))
      b.figure(c.id, c.title, render_line_chart(c),
               "The product of the layers' exact spectral norms: Lip(D) lies below it.");
  }
  b.raw("</div>\n");
  b.end_section();

  // Latest samples side by side.
  std::string imgs;
  for (std::size_t i = 0; i < n; ++i) {
    const RunData& r = runs[i];
    const std::string path = !r.latest_sample.empty() ? r.latest_sample
                             : r.samples.empty()      ? std::string()
                                                      : r.samples.back().path;
    if (!path.empty()) imgs += detail::sample_figure(path, ctx.labels[i], false);
  }
  if (!imgs.empty()) {
    b.begin_section("samples", "Latest samples");
    b.raw("<div class=\"samples\">\n" + imgs + "</div>\n");
    b.end_section();
  }

  std::vector<std::vector<std::string>> cells;
  for (std::size_t i = 0; i < n; ++i) {
    const Record& last = runs[i].records.back();
    std::vector<std::string> row{f4(last.value("wasserstein_estimate"))};
    if (any_mixture) {
      const bool mixture = runs[i].config.is_mixture();
      row.push_back(mixture ? f3(last.value("modes_covered")) + " / " +
                                  std::to_string(runs[i].config.modes_total())
                            : "–");
      row.push_back(mixture ? format_number(100 * last.value("high_quality_fraction"), 3) + " %"
                            : "–");
    }
    if (any_fid || any_is) {
      const EvalRecord* e = evals[i].empty() ? nullptr : &evals[i].back();
      if (any_fid)
        row.push_back(
            e ? f4(e->value("frechet_distance")) + " (step " + std::to_string(e->step) + ")" : "–");
      if (any_is) row.push_back(e ? f3(e->value("inception_score")) : "–");
    }
    row.push_back(f3(last.value("grad_norm_mean")));
    row.push_back(f4(last.value("critic_upper_bound")));
    cells.push_back(std::move(row));
  }
  std::vector<std::string> heads{"W estimate"};
  if (any_mixture) heads.push_back("modes"), heads.push_back("high quality");
  if (any_fid) heads.push_back("classifier FID");
  if (any_is) heads.push_back("Inception-style score");
  heads.push_back("E‖∇D(x̂)‖");
  heads.push_back("certified Lip(D) ≤");
  return runs_table(ctx, heads, cells);
}

}  // namespace

std::string to_string(ComparisonFigure figure) {
  switch (figure) {
    case ComparisonFigure::kSurfaces:
      return "surfaces";
    case ComparisonFigure::kGradients:
      return "gradients";
    case ComparisonFigure::kQuality:
      return "quality";
  }
  return "quality";
}

ComparisonFigure comparison_figure_from_string(const std::string& name) {
  for (ComparisonFigure f :
       {ComparisonFigure::kSurfaces, ComparisonFigure::kGradients, ComparisonFigure::kQuality})
    if (to_string(f) == name) return f;
  throw std::invalid_argument("unknown figure '" + name +
                              "': choose surfaces, gradients or quality");
}

// Each source bin's count goes to the target bins in proportion to their overlap: the weights are
// taken as uniform within a bin.
Histogram pool_weight_histograms(const std::vector<WeightHistogram>& layers, int bins) {
  if (bins < 1)
    throw std::invalid_argument("pool_weight_histograms needs bins >= 1: got " +
                                std::to_string(bins));
  Histogram h;
  double lo = HUGE_VAL, hi = -HUGE_VAL;
  for (const WeightHistogram& w : layers)
    if (!w.counts.empty() && std::isfinite(w.min) && std::isfinite(w.max) && w.min <= w.max)
      lo = std::min(lo, w.min), hi = std::max(hi, w.max);
  if (!(lo <= hi)) return h;
  if (hi == lo) hi = lo + 1e-12 * std::max(1.0, std::abs(lo));
  h.min = lo, h.max = hi;
  h.counts.assign(static_cast<std::size_t>(bins), 0.0);
  const double width = (hi - lo) / bins;
  for (const WeightHistogram& w : layers) {
    if (w.counts.empty() || !std::isfinite(w.min) || !std::isfinite(w.max) || w.min > w.max)
      continue;
    const double src = (w.max - w.min) / static_cast<double>(w.counts.size());
    for (std::size_t k = 0; k < w.counts.size(); ++k) {
      const double count = std::isfinite(w.counts[k]) ? w.counts[k] : 0;
      if (count <= 0) continue;
      const double a = w.min + static_cast<double>(k) * src, b = a + src;
      if (src <= 0) {  // all the layer's weights equal
        const int t = std::clamp(static_cast<int>((a - lo) / width), 0, bins - 1);
        h.counts[static_cast<std::size_t>(t)] += count;
        continue;
      }
      const int t0 = std::clamp(static_cast<int>(std::floor((a - lo) / width)), 0, bins - 1);
      const int t1 = std::clamp(static_cast<int>(std::floor((b - lo) / width)), 0, bins - 1);
      for (int t = t0; t <= t1; ++t) {
        const double c0 = lo + t * width, c1 = c0 + width;
        const double overlap = std::min(b, c1) - std::max(a, c0);
        if (overlap > 0) h.counts[static_cast<std::size_t>(t)] += count * overlap / src;
      }
    }
  }
  return h;
}

std::vector<std::string> run_labels(const std::vector<RunConfig>& configs) {
  std::vector<std::string> out;
  for (const LabelParts& l : label_parts(configs)) out.push_back(join(l));
  return out;
}

std::string shared_description(const std::vector<RunConfig>& configs) {
  if (configs.empty()) return "";
  const auto varies = varying_parts(configs);
  const auto p = parts_of(configs[0]);
  std::string s;
  for (int k = 0; k < kParts; ++k)
    if (!varies[k] && !(k == kGenerator && !configs[0].fixed_generator))
      s += (s.empty() ? "" : " · ") + p[k];
  return s;
}

ComparisonPage build_comparison(const std::vector<RunData>& runs, ComparisonFigure figure,
                                const std::string& generated_at) {
  if (runs.empty()) throw std::invalid_argument("a comparison needs at least one run: got none");
  std::vector<RunConfig> configs;
  for (const RunData& r : runs) {
    if (r.records.empty()) throw RunFormatError(r.dir + ": no monitoring records");
    configs.push_back(r.config);
  }
  Context ctx{runs, run_labels(configs), label_parts(configs), shared_description(configs)};
  ComparisonPage page;
  page.labels = ctx.labels;
  PageBuilder b(page.charts);
  std::string title, lead, table;
  switch (figure) {
    case ComparisonFigure::kSurfaces:
      title = "Critic value surfaces";
      lead =
          "Gulrajani et al. (2017), Figure 1a: WGAN critics trained on toy data with weight "
          "clipping and with the gradient penalty.";
      table = surfaces_body(ctx, b);
      break;
    case ComparisonFigure::kGradients:
      title = "Gradients and weights across the critic's layers";
      lead =
          "Gulrajani et al. (2017), Figure 1b: a deep critic under weight clipping at several "
          "c and under the gradient penalty.";
      table = gradients_body(ctx, b);
      break;
    case ComparisonFigure::kQuality:
      title = "Training and sample quality";
      lead = "The same measurements of every run, one colour per run.";
      table = quality_body(ctx, b);
      break;
  }
  std::string body = header(ctx, title, lead);
  body += "<section id=\"runs\">\n<h2>Runs</h2>\n" + table + "</section>\n";
  body += b.html();
  body += "<footer>Written by <code>lipschitz view --compare --figure " + to_string(figure) +
          "</code> at " + esc(generated_at) + " from " + std::to_string(runs.size()) +
          (runs.size() == 1 ? " run" : " runs") + "; " + std::to_string(page.charts.size()) +
          (page.charts.size() == 1 ? " chart" : " charts") +
          ", also in <code>charts/</code>. How to read them: <code>docs/view.md</code>.</footer>\n";
  page.html = detail::html_document(title + " · lipschitz view", body);
  return page;
}

ComparisonResult write_comparison(const std::vector<std::string>& run_dirs, ComparisonFigure figure,
                                  const CompareOptions& options) {
  if (run_dirs.empty())
    throw std::invalid_argument("a comparison needs at least one run directory: got none");
  std::vector<RunData> runs;
  for (const std::string& dir : run_dirs) runs.push_back(read_run(dir));
  const ComparisonPage page = build_comparison(runs, figure, detail::utc_timestamp());

  const fs::path html_path = options.output.empty()
                                 ? fs::path("compare-" + to_string(figure) + ".html")
                                 : fs::path(options.output);
  ComparisonResult result;
  result.html_path = html_path.string();
  result.labels = page.labels;
  result.charts = page.charts.size();
  if (options.chart_files)
    result.chart_files = detail::write_chart_files(
        page.charts,
        (html_path.parent_path().empty() ? fs::path("charts") : html_path.parent_path() / "charts")
            .string(),
        html_path.stem().string() + "-", options.png, options.png_scale);
  detail::write_atomically(result.html_path, page.html);
  return result;
}

}  // namespace lipschitz::view
