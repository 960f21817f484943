// The run's page: facts, alerts, charts, samples, critic surface; written atomically.

#include <view/page.hpp>

#include "html_parts.hpp"

#include <view/axis.hpp>
#include <view/encoding.hpp>
#include <view/png_export.hpp>
#include <view/svg_chart.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <functional>

namespace lipschitz::view {
namespace {

namespace fs = std::filesystem;
using detail::column;
using detail::Column;
using detail::config_value;
using detail::duration;
using detail::evenly_spaced;
using detail::fact;
using detail::file_safe;
using detail::objective_text;
using detail::PageBuilder;
using detail::sample_figure;

std::string esc(const std::string& s) { return xml_escape(s); }
std::string f3(double v) { return format_number(v, 3); }
std::string f4(double v) { return format_number(v, 4); }


Column key_column(const std::vector<Record>& records, const std::string& key) {
  return column(records, [&key](const Record& r) { return r.value(key); });
}

Series make_series(const std::string& label, const Column& c, int colour = -1,
                   LineStyle style = LineStyle::kSolid, double width = 2.0) {
  Series s;
  s.label = label;
  s.x = c.x;
  s.y = c.y;
  s.colour = colour;
  s.style = style;
  s.line_width = width;
  return s;
}

/// The layer names across all records, in order of first appearance (input to output).
std::vector<std::string> layer_names(const std::vector<Record>& records) {
  std::vector<std::string> names;
  for (const Record& r : records)
    for (const LayerStats& l : r.layers)
      if (std::find(names.begin(), names.end(), l.name) == names.end()) names.push_back(l.name);
  return names;
}

double layer_value(const Record& r, const std::string& name, double LayerStats::*member) {
  const LayerStats* l = r.layer(name);
  return l ? l->*member : kMissing;
}

/// Palette index for layer i, skipping black (kept for the network bound).
int layer_colour(std::size_t i) {
  const int k = static_cast<int>(i % 7);
  return k < 6 ? k : 7;
}
LineStyle layer_style(std::size_t i) {
  return (i / 7) % 2 == 1 ? LineStyle::kDashed : LineStyle::kSolid;
}

std::string header_html(const RunData& run, const Record& last) {
  const RunConfig& c = run.config;
  std::string name = fs::path(run.dir).lexically_normal().filename().string();
  if (name.empty() || name == ".")
    name = fs::path(run.dir).lexically_normal().parent_path().filename().string();
  std::string h = "<header>\n<h1>" + esc(name.empty() ? run.dir : name) + "</h1>\n";
  h += "<p class=\"sub\">" + esc(run.dir) + " · " +
       esc(c.data_description.empty() ? c.data : c.data_description) +
       "</p>\n<div class=\"facts\">\n";
  h += fact("objective", objective_text(c),
            "critic iterations " + config_value(c, "critic_iters") + ", " +
                config_value(c, "optimizer") + " lr " + config_value(c, "lr"));
  std::string model = c.model;
  if (c.model == "mlp")
    model += " " + config_value(c, "depth") + "×" + config_value(c, "width");
  else if (!c.model.empty())
    model += ", width " + config_value(c, "width");
  if (c.critic_norm == "layernorm") model += ", LayerNorm";
  h += fact("model", model,
            "batch " + config_value(c, "batch_size") + ", seed " + config_value(c, "seed"));
  const double seconds = run.summary && std::isfinite(run.summary->train_seconds)
                             ? run.summary->train_seconds
                             : last.value("seconds");
  h += fact("steps", std::to_string(last.step) + " / " + std::to_string(c.steps),
            std::to_string(run.records.size()) + " records, training time " + duration(seconds));
  const double w = last.value("wasserstein_estimate");
  h += fact("W estimate", f4(w),
            "held-out " + f4(last.value("heldout_wasserstein_estimate")) + ", critic loss " +
                f4(last.value("critic_loss")));
  const double lower = std::max({last.value("grad_norm_max"), last.value("grad_norm_real_max"),
                                 last.value("grad_norm_fake_max")});
  if (last.critic_certified && std::isfinite(last.value("critic_upper_bound")))
    h += fact("Lip(D), certified", "≤ " + f4(last.value("critic_upper_bound")),
              "measured ≥ " + f4(lower) + " (max ‖∇D‖ seen)" +
                  (last.critic_bound_method.empty() || last.critic_bound_method == "product"
                       ? std::string()
                       : "; " + last.critic_bound_method + " bound, product of layer norms " +
                             f4(last.value("critic_product_bound"))));
  else
    h += fact("Lip(D), certified", last.critic_certified ? "not finite" : "no bound",
              (last.critic_certified ? std::string("") : "LayerNorm critic; ") + "measured ≥ " +
                  f4(lower));
  if (c.is_mixture() && last.has("modes_covered"))
    h += fact("samples",
              f3(last.value("modes_covered")) + " / " + std::to_string(c.modes_total()) + " modes",
              format_number(100 * last.value("high_quality_fraction"), 3) + " % high quality");
  std::string status, detail;
  if (run.summary) {
    status = run.summary->status.empty() ? "unknown" : run.summary->status;
    detail = run.summary->message;
    if (detail.empty() && std::isfinite(run.summary->median_step_seconds))
      detail = "median step " + format_number(1e3 * run.summary->median_step_seconds, 3) +
               " ms, monitoring " + format_number(100 * run.summary->monitor_overhead, 2) + " %";
  } else {
    status = "running";
    detail = "no summary.json yet (or the run was killed)";
  }
  if (run.truncated_last_line)
    detail += (detail.empty() ? "" : "; ") + std::string("last record being written");
  h += fact("status", status, detail);
  h += "</div>\n</header>\n";
  return h;
}

std::string alerts_html(const std::vector<Alert>& alerts) {
  bool critical = false, active = false;
  for (const Alert& a : alerts) {
    critical = critical || a.severity == Severity::kCritical;
    active = active || a.ongoing;
  }
  const std::string cls = alerts.empty() ? "ok" : critical ? "crit" : "warn";
  std::string h = "<section id=\"alerts\" class=\"alerts " + cls + "\">\n";
  if (alerts.empty()) {
    h += "<h2>No alerts</h2>\n<p>No stability rule fired: gradient norms, spectral norms, the "
         "certified bound, per-layer gradients, the held-out gap and every value look healthy by "
         "the thresholds of <code>docs/view.md</code>.</p>\n</section>\n";
    return h;
  }
  std::size_t ongoing = 0;
  for (const Alert& a : alerts) ongoing += a.ongoing;
  h += "<h2>" + std::to_string(alerts.size()) + (alerts.size() == 1 ? " alert" : " alerts") + " (" +
       std::to_string(ongoing) + " at the latest record)</h2>\n<ul>\n";
  for (const Alert& a : alerts) {
    const std::string sev = to_string(a.severity);
    h += std::string("<li class=\"") + (a.ongoing ? sev : "ended") + "\"><span class=\"badge " +
         (a.ongoing ? sev : "ended") + "\">" + (a.ongoing ? sev : "ended") +
         "</span><span class=\"kind\">" + esc(to_string(a.kind)) +
         (a.subject.empty() ? "" : " " + esc(a.subject)) + "</span> — " + esc(a.message) +
         "</li>\n";
  }
  h += "</ul>\n</section>\n";
  (void)active;
  return h;
}

std::string layer_table(const Record& last, const RunConfig& c) {
  if (last.layers.empty()) return "";
  const bool clip = c.objective == "wgan";
  std::string h =
      "<table>\n<tr><th class=\"l\">layer</th><th class=\"l\">input → output</th>"
      "<th>σ₁ (certified interval)</th><th>exact</th><th>reshaped-weight norm</th>"
      "<th>‖∂L/∂h‖</th><th>weight std</th><th>weight range</th>";
  if (clip) h += "<th>at ±c</th>";
  h += "</tr>\n";
  for (const LayerStats& l : last.layers) {
    const bool point = f4(l.lower_bound) == f4(l.upper_bound);  // equal at the digits shown
    h += "<tr><td class=\"l\">" + esc(l.name) + "</td><td class=\"l\">" + esc(l.input_shape) +
         " → " + esc(l.output_shape) + "</td><td>" + f4(l.spectral_norm) +
         (point || std::isnan(l.lower_bound)
              ? ""
              : " [" + f4(l.lower_bound) + ", " + f4(l.upper_bound) + "]") +
         "</td><td>" + (l.exact ? "yes" : "no") + "</td><td>" + f4(l.reshaped_weight_norm) +
         "</td><td>" + f3(l.activation_grad_norm) + "</td><td>" + f3(l.weight_std) + "</td><td>[" +
         f3(l.weight_min) + ", " + f3(l.weight_max) + "]</td>";
    if (clip) h += "<td>" + format_number(100 * l.weight_at_clip, 3) + " %</td>";
    h += "</tr>\n";
  }
  h += "</table>\n";
  return h;
}

}  // namespace

Page build_page(const RunData& run, const std::vector<Alert>& alerts, const ViewOptions& options,
                const std::string& generated_at) {
  if (run.records.empty()) throw RunFormatError(run.dir + ": no monitoring records");
  const std::vector<Record>& recs = run.records;
  const Record& last = recs.back();
  const RunConfig& cfg = run.config;
  Page page;
  PageBuilder b(page.charts);

  // Losses.
  b.begin_section(
      "losses", "Wasserstein estimate and losses",
      "The W estimate E[D(x)] − E[D(G(z))] should rise while the critic learns to separate "
      "the distributions, then fall slowly as the generator improves. Dashed: the same "
      "measurement with held-out real data; a widening gap is overfitting.");
  b.raw("<div class=\"grid\">\n");
  {
    LineChart c;
    c.id = "wasserstein";
    c.title = "Wasserstein estimate";
    c.x_label = "step";
    c.y_label = "E[D(x)] − E[D(G(z))]";
    c.series.push_back(make_series("training data", key_column(recs, "wasserstein_estimate"), 0));
    c.series.push_back(make_series(
        "held-out data", key_column(recs, "heldout_wasserstein_estimate"), 1, LineStyle::kDashed));
    if (has_data(c))
      b.figure(c.id, c.title, render_line_chart(c),
               cfg.objective == "gan" ? "For GAN this is a difference of logits, not a distance."
                                      : "Compare values only between runs with the same critic.");
  }
  {
    LineChart c;
    c.id = "critic_loss";
    c.title = "Critic loss";
    c.x_label = "step";
    c.y_label = cfg.objective == "gan" ? "loss" : "loss (penalty included)";
    c.series.push_back(make_series("training data", key_column(recs, "critic_loss"), 0));
    c.series.push_back(make_series("held-out data", key_column(recs, "heldout_critic_loss"), 1,
                                   LineStyle::kDashed));
    if (cfg.objective == "gan") {
      c.series.push_back(
          make_series("generator loss", key_column(recs, "generator_loss"), 2, LineStyle::kDotted));
      c.reference_lines.push_back({2 * std::log(2.0), "2 log 2 (D cannot tell)"});
    }
    if (has_data(c))
      b.figure(c.id, c.title, render_line_chart(c),
               cfg.objective == "wgan-gp" ? "−W plus the gradient penalty."
               : cfg.objective == "wgan"  ? "−W: strongly negative early, then rising toward 0."
                                          : "");
  }
  b.raw("</div>\n");
  b.end_section();

  // Gradient norms.
  b.begin_section(
      "gradients", "Critic gradient norms",
      cfg.objective == "wgan-gp"
          ? "WGAN-GP pulls ‖∇D(x̂)‖ at interpolates x̂ toward 1. Healthy: the mean rises from "
            "near 0 to about 1 and stays there with a small spread."
          : "No gradient target without the penalty; the scale follows the clipping bound "
            "and the depth.");
  b.raw("<div class=\"grid\">\n");
  {
    LineChart c;
    c.id = "grad_norms";
    c.title = "Gradient norm ‖∇ₓD(x)‖";
    c.x_label = "step";
    c.y_label = "‖∇ₓD‖₂";
    Series s = make_series("interpolates: mean ± std", key_column(recs, "grad_norm_mean"), 0);
    for (const Record& r : recs) {
      const double m = r.value("grad_norm_mean"), sd = r.value("grad_norm_std");
      s.band_low.push_back(m - sd);
      s.band_high.push_back(m + sd);
    }
    c.series.push_back(std::move(s));
    c.series.push_back(make_series("interpolates: max", key_column(recs, "grad_norm_max"), 0,
                                   LineStyle::kDotted, 1.6));
    c.series.push_back(
        make_series("real points: mean", key_column(recs, "grad_norm_real_mean"), 2));
    c.series.push_back(
        make_series("generated points: mean", key_column(recs, "grad_norm_fake_mean"), 3));
    if (cfg.objective == "wgan-gp") c.reference_lines.push_back({1.0, "target 1"});
    if (has_data(c))
      b.figure(
          c.id, c.title, render_line_chart(c),
          "Real or generated points much steeper than the interpolates: the critic is steep where "
          "the penalty does not look.");
  }
  if (cfg.objective == "wgan-gp") {
    LineChart c;
    c.id = "gradient_penalty";
    c.title = "Gradient penalty λ E[(‖∇D(x̂)‖ − 1)²]";
    c.x_label = "step";
    c.y_label = "penalty";
    c.y_scale = AxisScale::kLog;
    c.series.push_back(make_series("gradient penalty", key_column(recs, "gradient_penalty"), 4));
    if (has_data(c))
      b.figure(c.id, c.title, render_line_chart(c),
               "A growing penalty with a rising mean gradient norm: the penalty is losing (λ too "
               "small or "
               "the learning rate too large).");
  }
  b.raw("</div>\n");
  b.end_section();

  // Lipschitz constant: per-layer spectral norms, bound, measured lower bound.
  const std::vector<std::string> layers = layer_names(recs);
  b.begin_section(
      "lipschitz", "Lipschitz constant of the critic",
      "Each layer's exact spectral norm σ₁ at its real input size, and their product: a "
      "certified upper bound on Lip(D). The largest gradient norm measured is a lower bound. "
      "Under the penalty nothing bounds the individual norms.");
  b.raw("<div class=\"grid\">\n");
  {
    LineChart c;
    c.id = "spectral_norms";
    c.title = "Spectral norms and the certified bound";
    c.height = layers.size() > 6 ? 420 : 360;  // room for a legend of many layers
    c.x_label = "step";
    c.y_label = "σ₁ / Lipschitz constant";
    c.y_scale = AxisScale::kLog;
    for (std::size_t i = 0; i < layers.size(); ++i) {
      const std::string& name = layers[i];
      c.series.push_back(make_series("σ₁(" + name + ")",
                                     column(recs,
                                            [&name](const Record& r) {
                                              return layer_value(r, name,
                                                                 &LayerStats::spectral_norm);
                                            }),
                                     layer_colour(i), layer_style(i), 1.6));
    }
    c.series.push_back(make_series(
        "certified bound on Lip(D)" +
            (last.critic_bound_method.empty() ? std::string() : " (" + last.critic_bound_method + ")"),
        key_column(recs, "critic_upper_bound"), 6, LineStyle::kSolid, 2.8));
    if (last.critic_bound_method != "" && last.critic_bound_method != "product")
      c.series.push_back(make_series("product of layer norms", key_column(recs, "critic_product_bound"),
                                     6, LineStyle::kDotted, 1.4));
    c.series.push_back(make_series(
        "measured max ‖∇D‖ (lower bound)",
        column(recs,
               [](const Record& r) {
                 const double v = std::max({r.value("grad_norm_max"), r.value("grad_norm_real_max"),
                                            r.value("grad_norm_fake_max")});
                 return v;
               }),
        6, LineStyle::kDashed, 2.0));
    if (has_data(c))
      b.figure(c.id, c.title, render_line_chart(c),
               last.critic_certified
                   ? "The true Lip(D) lies between the dashed and the thick black line."
                   : "LayerNorm critic: no certified bound exists; the per-layer norms and the "
                     "measured lower bound still hold.");
  }
  {
    LayerProfile p;
    p.id = "layer_grad_profile";
    p.title = "Per-layer gradient norms (Figure 1b)";
    p.y_label = "‖∂L/∂hₗ‖";
    p.layers = layers;
    for (std::size_t i :
         evenly_spaced(recs.size(), static_cast<std::size_t>(std::max(options.profile_steps, 1)))) {
      std::vector<double> v;
      for (const std::string& name : layers)
        v.push_back(layer_value(recs[i], name, &LayerStats::activation_grad_norm));
      p.lines.emplace_back("step " + std::to_string(recs[i].step), std::move(v));
    }
    LineChart probe;
    probe.y_scale = AxisScale::kLog;
    for (const auto& [label, v] : p.lines) {
      Series s;
      for (std::size_t k = 0; k < v.size(); ++k)
        s.x.push_back(static_cast<double>(k)), s.y.push_back(v[k]);
      probe.series.push_back(s);
    }
    if (!layers.empty() && has_data(probe))
      b.figure(p.id, p.title, render_layer_profile(p),
               "Gradient of the critic loss with respect to each layer's activation. A geometric "
               "fall toward "
               "the input is vanishing, a rise exploding; with the penalty the profile stays "
               "within a small "
               "factor. The last layer is √(2/n) for WGAN objectives.");
  }
  b.raw("</div>\n");
  const Record* with_layers = &last;
  for (auto it = recs.rbegin(); it != recs.rend(); ++it)
    if (!it->layers.empty()) {
      with_layers = &*it;
      break;
    }
  if (!with_layers->layers.empty())
    b.raw("<p class=\"note\">Layers at step " + std::to_string(with_layers->step) + ":</p>\n" +
          layer_table(*with_layers, cfg));
  b.end_section();

  // Weights.
  // The newest record that has them (a record cut short by a NaN may not).
  const Record* with_hists = &last;
  for (auto it = recs.rbegin(); it != recs.rend(); ++it)
    if (!it->weight_histograms.empty()) {
      with_hists = &*it;
      break;
    }
  const std::vector<WeightHistogram>& hists = with_hists->weight_histograms;
  const bool clip_chart = cfg.objective == "wgan";
  if (!hists.empty() || clip_chart) {
    b.begin_section(
        "weights", "Weights",
        "Histograms of each layer's weight entries at step " + std::to_string(with_hists->step) +
            (cfg.objective == "wgan"
                 ? ". Clipping piles weights up at ±c (Gulrajani et al. 2017, Figure 1b right)."
                 : "."));
    if (!hists.empty()) {
      b.raw("<div class=\"grid small\">\n");
      for (std::size_t i = 0; i < hists.size(); ++i) {
        const WeightHistogram& w = hists[i];
        if (w.counts.empty() || !std::isfinite(w.min) || !std::isfinite(w.max) || w.max < w.min)
          continue;
        Histogram h;
        h.id = "weight_hist_" + file_safe(w.layer);
        h.title = w.layer + " weights";
        h.x_label = "weight";
        h.min = w.min;
        h.max = w.max;
        h.counts = w.counts;
        h.colour = layer_colour(i);
        if (cfg.objective == "wgan" && cfg.clip > 0)
          h.markers = {{-cfg.clip, "−c"}, {cfg.clip, "+c"}};
        b.figure(h.id, h.title, render_histogram(h), "");
      }
      b.raw("</div>\n");
    }
    if (clip_chart) {
      LineChart c;
      c.id = "weight_at_clip";
      c.title = "Share of weights at ±c";
      c.x_label = "step";
      c.y_label = "share";
      c.y_min = 0;
      c.y_max = 1;
      for (std::size_t i = 0; i < layers.size(); ++i) {
        const std::string& name = layers[i];
        c.series.push_back(make_series(name,
                                       column(recs,
                                              [&name](const Record& r) {
                                                return layer_value(r, name,
                                                                   &LayerStats::weight_at_clip);
                                              }),
                                       layer_colour(i), layer_style(i)));
      }
      if (has_data(c)) {
        b.raw("<div class=\"grid\">\n");
        b.figure(
            c.id, c.title, render_line_chart(c),
            "Approaching 1: the critic is close to a network of ±c weights and has lost capacity.");
        b.raw("</div>\n");
      }
    }
    b.end_section();
  }

  // Samples.
  b.begin_section("samples", "Samples",
                  cfg.is_toy() ? "Generated points (orange) over real ones (blue-grey)." : "");
  // The quality chart (toy mixtures) beside the latest picture, the earlier pictures below.
  const std::string latest = !run.latest_sample.empty() ? run.latest_sample
                             : run.samples.empty()      ? std::string()
                                                        : run.samples.back().path;
  const std::string latest_figure =
      latest.empty()
          ? std::string()
          : sample_figure(latest,
                          run.samples.empty()
                              ? "latest samples"
                              : "step " + std::to_string(run.samples.back().step) + " (latest)",
                          true);
  b.raw("<div class=\"grid\">\n");
  if (cfg.is_mixture()) {
    LineChart c;
    c.id = "sample_quality";
    c.title = "Sample quality";
    c.x_label = "step";
    c.y_label = "%";
    c.y_min = 0;
    c.y_max = 100;
    const int modes = cfg.modes_total();
    c.series.push_back(make_series(
        "modes covered (% of " + std::to_string(modes) + ")",
        column(recs, [modes](const Record& r) { return 100 * r.value("modes_covered") / modes; }),
        0));
    c.series.push_back(make_series(
        "high-quality samples (within 3σ)",
        column(recs, [](const Record& r) { return 100 * r.value("high_quality_fraction"); }), 2));
    if (has_data(c))
      b.figure(c.id, c.title, render_line_chart(c),
               "On 2,500 fresh samples per record (as <code>lipschitz eval</code>). Real data "
               "reaches 98.9 % "
               "high quality.");
  }
  b.raw(latest_figure);
  b.raw("</div>\n");
  {
    std::string imgs;
    std::vector<SampleImage> earlier(run.samples.begin(),
                                     run.samples.end() - (run.samples.empty() ? 0 : 1));
    for (std::size_t i : evenly_spaced(
             earlier.size(), static_cast<std::size_t>(std::max(options.earlier_samples, 0))))
      imgs += sample_figure(earlier[i].path, "step " + std::to_string(earlier[i].step), false);
    if (!imgs.empty())
      b.raw("<p class=\"note\">Earlier:</p>\n<div class=\"samples\">\n" + imgs + "</div>\n");
    if (latest_figure.empty())
      b.raw(
          "<p class=\"note\">No sample pictures yet (written every --sample-every steps and at the "
          "end).</p>\n");
  }
  b.end_section();

  // Critic surface (2-D data).
  if (!run.surfaces.empty()) {
    const SurfaceFile& file = run.surfaces.back();
    std::error_code ec;
    if (fs::exists(file.path, ec)) {
      const CriticSurface s = read_surface(file.path);
      Heatmap h;
      h.id = "critic_surface";
      h.title = "Critic D(x) at step " + std::to_string(s.step ? s.step : file.step);
      h.value_label = "D(x)";
      h.x_min = s.x_min, h.x_max = s.x_max, h.y_min = s.y_min, h.y_max = s.y_max;
      h.columns = h.rows = s.resolution;
      h.values = s.values;
      h.real = s.real;
      h.fake = s.fake;
      b.begin_section(
          "surface", "Critic value surface (Figure 1a)",
          "The critic's value over the plane with real (white) and generated (vermillion) "
          "points, as in Gulrajani et al. (2017), Figure 1a. A critic with unit gradient has "
          "evenly spaced contours.");
      b.raw("<div class=\"grid\">\n");
      b.figure(h.id, h.title, render_heatmap(h), "Contour lines at the colour bar's ticks.");
      b.raw("</div>\n");
      b.end_section();
    }
  }

  // Settings.
  std::string settings =
      "<section id=\"settings\">\n<h2>Settings</h2>\n<details><summary>config.json (" +
      std::to_string(cfg.entries.size()) + " entries)</summary>\n<table>\n";
  for (const auto& [k, v] : cfg.entries)
    settings += "<tr><td class=\"l\"><code>" + esc(k) + "</code></td><td class=\"l\">" + esc(v) +
                "</td></tr>\n";
  settings += "</table>\n</details>\n</section>\n";

  std::string body = header_html(run, last);
  body += alerts_html(alerts);
  body += b.html();
  body += settings;
  body +=
      "<footer>Written by <code>lipschitz view</code> at " + esc(generated_at) + " from " +
      std::to_string(recs.size()) + " records of <code>metrics.jsonl</code>" +
      (run.truncated_last_line ? " (its last line was still being written)" : "") + "; " +
      std::to_string(page.charts.size()) +
      " charts, also in <code>charts/</code>. How to read them: <code>docs/monitoring.md</code>, "
      "<code>docs/view.md</code>.</footer>\n";
  std::string html = detail::html_document(
      fs::path(run.dir).lexically_normal().filename().string() + " · lipschitz view", body);
  page.html = std::move(html);
  return page;
}

ViewResult write_view(const std::string& run_dir, const ViewOptions& options) {
  const RunData run = read_run(run_dir);
  ViewResult result;
  result.alerts = detect_alerts(run, options.alerts);
  result.records = run.records.size();
  result.truncated_last_line = run.truncated_last_line;

  const Page page = build_page(run, result.alerts, options, detail::utc_timestamp());
  result.charts = page.charts.size();

  const fs::path html_path =
      options.output.empty() ? fs::path(run_dir) / "view.html" : fs::path(options.output);
  result.html_path = html_path.string();
  if (options.chart_files)
    result.chart_files = detail::write_chart_files(
        page.charts,
        (html_path.parent_path().empty() ? fs::path("charts") : html_path.parent_path() / "charts")
            .string(),
        "", options.png, options.png_scale);
  detail::write_atomically(result.html_path, page.html);
  return result;
}

}  // namespace lipschitz::view
