#pragma once
// Test fixtures shared by the view tests: a temporary directory, and synthetic run directories
// (config.json, metrics.jsonl records, samples) written the way `lipschitz train` writes them.

#include <view/png_export.hpp>

#include "../temp_dir.hpp"

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <system_error>
#include <vector>

namespace lipschitz::view::testing {

using lipschitz::testing::TempDir;

inline void write_text(const std::string& path, const std::string& text) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream out(path, std::ios::binary);
  out << text;
}

inline std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

inline std::string config_json(const std::string& data = "8gaussians",
                               const std::string& objective = "wgan-gp", long long steps = 1000) {
  return "{\"batch_size\": 256, \"critic_iters\": 5, \"data\": \"" + data +
         "\", \"depth\": 3, \"lambda\": 0.1, \"clip\": 0.01, \"lr\": 0.0001, \"model\": \"mlp\", "
         "\"monitor_every\": 100, \"objective\": \"" +
         objective +
         "\", \"one_sided\": false, "
         "\"optimizer\": \"adam\", \"seed\": 0, \"steps\": " +
         std::to_string(steps) + ", \"width\": 16, \"data_description\": \"" + data + "\"}\n";
}

/// One metrics.jsonl line like the trainer's, for an MLP critic fc1..fc3, with the given
/// interpolate gradient-norm mean, W estimates, a scale applied to every spectral norm, and
/// weight histograms.
inline std::string record_json(long long step, double grad_mean = 1.0, double w = 0.5,
                               double w_heldout = 0.5, double norm_scale = 1.0,
                               bool histograms = true) {
  std::ostringstream s;
  s.precision(17);
  const double norms[3] = {1.5 * norm_scale, 1.2 * norm_scale, 0.8 * norm_scale};
  const double grads[3] = {0.05, 0.07, 0.0884};
  s << "{\"step\": " << step << ", \"seconds\": " << step * 0.01
    << ", \"wasserstein_estimate\": " << w << ", \"critic_loss\": " << -w + 0.01
    << ", \"gradient_penalty\": 0.01, \"generator_loss\": 0.1, \"grad_norm_mean\": " << grad_mean
    << ", \"grad_norm_std\": 0.1, \"grad_norm_min\": " << grad_mean - 0.2
    << ", \"grad_norm_max\": " << grad_mean + 0.2 << ", \"grad_norm_real_mean\": " << grad_mean
    << ", \"grad_norm_real_std\": 0.1, \"grad_norm_real_min\": 0.5, \"grad_norm_real_max\": "
    << grad_mean + 0.3 << ", \"grad_norm_fake_mean\": " << grad_mean
    << ", \"grad_norm_fake_std\": 0.1, \"grad_norm_fake_min\": 0.5, \"grad_norm_fake_max\": "
    << grad_mean + 0.1 << ", \"heldout_critic_loss\": " << -w_heldout + 0.01
    << ", \"heldout_wasserstein_estimate\": " << w_heldout
    << ", \"modes_covered\": 8, \"high_quality_fraction\": " << 0.5 + step * 1e-4
    << ", \"layer_spectral_norms\": {\"fc1\": " << norms[0] << ", \"fc2\": " << norms[1]
    << ", \"fc3\": " << norms[2] << "}, \"layer_grad_norms\": {\"fc1\": " << grads[0]
    << ", \"fc2\": " << grads[1] << ", \"fc3\": " << grads[2]
    << "}, \"critic_upper_bound\": " << norms[0] * norms[1] * norms[2]
    << ", \"critic_certified\": true, \"layers\": [";
  const char* shapes[3][2] = {{"2", "16"}, {"16", "16"}, {"16", "1"}};
  for (int l = 0; l < 3; ++l) {
    s << (l ? ", " : "") << "{\"name\": \"fc" << l + 1 << "\", \"input_shape\": \"" << shapes[l][0]
      << "\", \"output_shape\": \"" << shapes[l][1] << "\", \"spectral_norm\": " << norms[l]
      << ", \"lower_bound\": " << norms[l] << ", \"upper_bound\": " << norms[l]
      << ", \"exact\": true, \"reshaped_weight_norm\": " << norms[l]
      << ", \"activation_grad_norm\": " << grads[l]
      << ", \"weight_mean\": 0, \"weight_std\": 0.3, \"weight_min\": -0.7, \"weight_max\": 0.7, "
         "\"weight_at_clip\": 0}";
  }
  s << "], \"spectral_seconds\": 0.001, \"monitor_seconds\": 0.002";
  if (histograms) {
    s << ", \"weight_histograms\": {";
    for (int l = 0; l < 3; ++l) {
      s << (l ? ", " : "") << "\"fc" << l + 1 << "\": {\"min\": -0.7, \"max\": 0.7, \"counts\": [";
      for (int b = 0; b < 40; ++b) s << (b ? ", " : "") << 20 - (b - 20) * (b - 20) / 20;
      s << "]}";
    }
    s << "}";
  }
  s << "}";
  return s.str();
}

/// A small valid PNG (a w×h grey gradient).
inline std::string tiny_png(int w = 8, int h = 8) {
  std::vector<unsigned char> rgba(static_cast<std::size_t>(w * h * 4), 255);
  for (int i = 0; i < w * h; ++i)
    rgba[static_cast<std::size_t>(i * 4)] = static_cast<unsigned char>(i * 3);
  return encode_png_rgba(w, h, rgba);
}

/// A surface_step_N.json on a R×R grid: D(x, y) = x − y, with a few real and generated points.
inline std::string surface_json(long long step, int R = 16) {
  std::ostringstream s;
  s << "{\"step\": " << step
    << ", \"x_range\": [-2, 2], \"y_range\": [-2, 2], \"resolution\": " << R << ", \"values\": [";
  for (int i = 0; i < R; ++i)
    for (int j = 0; j < R; ++j) {
      const double x = -2 + (j + 0.5) * 4.0 / R, y = -2 + (i + 0.5) * 4.0 / R;
      s << (i || j ? ", " : "") << x - y;
    }
  s << "], \"real\": [[1, 0], [-1, 0], [0, 1]], \"fake\": [[0.5, 0.5], [-0.5, 0.2]]}";
  return s.str();
}

/// A complete run directory: `records` monitoring records (every 100 steps), summary.json,
/// sample PNGs at every 100 steps plus latest.png, and a surface for the last step.
inline void write_run(const std::string& dir, int records = 6,
                      const std::string& data = "8gaussians", bool surface = true,
                      const std::string& objective = "wgan-gp") {
  write_text(dir + "/config.json", config_json(data, objective, 100LL * (records - 1)));
  std::string lines;
  // E‖∇D‖ = 2.16, where config_json's λ = 0.1 holds it against W ≈ 0.5 (view::grad_norm_target).
  for (int i = 0; i < records; ++i)
    lines += record_json(100LL * i, 2.16, 0.5 - 0.01 * i, 0.5 - 0.01 * i) + "\n";
  write_text(dir + "/metrics.jsonl", lines);
  write_text(dir + "/summary.json",
             "{\"status\": \"completed\", \"steps\": " + std::to_string(100 * (records - 1)) +
                 ", \"train_seconds\": 12.5, \"session_train_seconds\": 12.5, "
                 "\"median_step_seconds\": 0.01, \"monitor_seconds\": 0.1, \"monitor_overhead\": "
                 "0.008, \"message\": \"\"}\n");
  for (int i = 1; i < records; ++i) {
    char name[64];
    std::snprintf(name, sizeof name, "/samples/step_%07d.png", 100 * i);
    write_text(dir + name, tiny_png(8 + i, 8));
  }
  write_text(dir + "/samples/latest.png", tiny_png(8 + records - 1, 8));
  if (surface) {
    char name[64];
    std::snprintf(name, sizeof name, "/samples/surface_step_%07d.json", 100 * (records - 1));
    write_text(dir + name, surface_json(100LL * (records - 1)));
  }
}

}  // namespace lipschitz::view::testing
