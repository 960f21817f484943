// Tests compare.hpp: run labels from config.json, pooled weight histograms, and the three
// comparison pages (self-contained, the charts written as STEM-NAME.svg/png beside the page), and
// the errors that name the run.
#include <doctest/doctest.h>
#include <view/compare.hpp>

#include "run_fixture.hpp"
#include "xml_check.hpp"

#include <cmath>
#include <filesystem>
#include <numeric>
#include <regex>
#include <string>
#include <vector>

using namespace lipschitz::view;
using namespace lipschitz::view::testing;
namespace fs = std::filesystem;

namespace {

RunConfig config(const std::string& objective, double clip_or_lambda,
                 const std::string& data = "swissroll", long long depth = 12) {
  RunConfig c;
  c.objective = objective;
  if (objective == "wgan") c.clip = clip_or_lambda;
  if (objective == "wgan-gp") c.lambda = clip_or_lambda;
  c.data = data;
  c.model = "mlp";
  c.depth = depth;
  c.width = 512;
  c.steps = 500;
  c.entries = {{"objective", objective}, {"seed", "0"}};
  return c;
}

double total(const std::vector<double>& counts) {
  return std::accumulate(counts.begin(), counts.end(), 0.0);
}

/// Adds eval_step_N.json files as `lipschitz eval RUN --json` prints them.
void write_evals(const std::string& dir, const std::vector<std::pair<long long, double>>& fids) {
  for (const auto& [step, fid] : fids) {
    char name[64];
    std::snprintf(name, sizeof name, "/eval_step_%07lld.json", step);
    write_text(dir + name, "{\"data\": \"fashion-mnist\", \"step\": " + std::to_string(step) +
                               ", \"samples\": 10000, \"classifier_accuracy\": 0.91, "
                               "\"classifier_path\": \"/x/c.pt\", \"frechet_distance\": " +
                               std::to_string(fid) +
                               ", \"frechet_distance_data\": 0.3, \"inception_score\": 2.5, "
                               "\"inception_score_std\": 0.1, \"inception_score_data\": 7, "
                               "\"seconds\": 3.2}\n");
  }
}

}  // namespace

TEST_CASE("run labels say what tells the runs apart, the rest is shared") {
  // Figure 1b: three clipping bounds and the penalty on one data set and critic.
  const std::vector<RunConfig> fig1b = {config("wgan", 0.1), config("wgan", 0.01),
                                        config("wgan", 0.001), config("wgan-gp", 10)};
  CHECK(run_labels(fig1b) ==
        std::vector<std::string>{"weight clipping c = 0.1", "weight clipping c = 0.01",
                                 "weight clipping c = 0.001", "gradient penalty λ = 10"});
  CHECK(shared_description(fig1b) == "Swiss roll · MLP 12×512 · 500 steps");

  // Figure 1a: data sets and objectives vary; a fixed generator is shared.
  std::vector<RunConfig> fig1a = {config("wgan", 0.01, "8gaussians", 3),
                                  config("wgan-gp", 0.1, "25gaussians", 3)};
  for (RunConfig& c : fig1a) c.fixed_generator = true;
  CHECK(run_labels(fig1a) == std::vector<std::string>{"weight clipping c = 0.01, 8 Gaussians",
                                                      "gradient penalty λ = 0.1, 25 Gaussians"});
  CHECK(shared_description(fig1a) == "MLP 3×512 · fixed generator · 500 steps");

  // Depth, one-sided penalties, LayerNorm and GAN.
  RunConfig one_sided = config("wgan-gp", 10, "swissroll", 4);
  one_sided.one_sided = true;
  RunConfig layernorm = config("wgan-gp", 10);
  layernorm.critic_norm = "layernorm";
  CHECK(run_labels({one_sided, layernorm, config("gan", 0)}) ==
        std::vector<std::string>{"one-sided penalty λ = 10, MLP 4×512",
                                 "gradient penalty λ = 10 + LayerNorm, MLP 12×512",
                                 "GAN, MLP 12×512"});

  // Alike in every part: the config.json entries that differ; identical: numbered.
  RunConfig seed1 = config("wgan-gp", 10);
  seed1.entries = {{"objective", "wgan-gp"}, {"seed", "1"}};
  CHECK(run_labels({config("wgan-gp", 10), seed1}) ==
        std::vector<std::string>{"gradient penalty λ = 10, seed 0",
                                 "gradient penalty λ = 10, seed 1"});
  CHECK(run_labels({config("gan", 0), config("gan", 0)}) ==
        std::vector<std::string>{"GAN", "GAN, #2"});
  // One run: its objective, everything else shared.
  CHECK(run_labels({config("wgan", 0.01)}) == std::vector<std::string>{"weight clipping c = 0.01"});
  CHECK(shared_description({}) == "");
}

TEST_CASE("figures as text") {
  for (ComparisonFigure f :
       {ComparisonFigure::kSurfaces, ComparisonFigure::kGradients, ComparisonFigure::kQuality})
    CHECK(comparison_figure_from_string(to_string(f)) == f);
  CHECK(to_string(ComparisonFigure::kSurfaces) == "surfaces");
  CHECK_THROWS_WITH_AS(comparison_figure_from_string("surface"),
                       "unknown figure 'surface': choose surfaces, gradients or quality",
                       std::invalid_argument);
}

TEST_CASE("pooled weight histograms keep every count") {
  // Two layers side by side, with the pooled bins on their bin edges: exact.
  WeightHistogram a{"fc1", -1, 0, {1, 2}}, b{"fc2", 0, 1, {3, 4}};
  Histogram h = pool_weight_histograms({a, b}, 4);
  CHECK(h.min == -1);
  CHECK(h.max == 1);
  CHECK(h.counts == std::vector<double>{1, 2, 3, 4});

  // Overlapping ranges on a finer grid: spread by overlap, the total kept.
  WeightHistogram wide{"fc3", -0.7, 0.7, std::vector<double>(40, 5.0)};
  WeightHistogram narrow{"fc4", -0.01, 0.01, {100, 0, 0, 100}};
  h = pool_weight_histograms({wide, narrow, a}, 60);
  REQUIRE(h.counts.size() == 60);
  CHECK(h.min == -1);
  CHECK(h.max == 0.7);
  const double expected = 40 * 5.0 + 200 + 3;
  INFO(total(h.counts));
  CHECK(std::abs(total(h.counts) - expected) < 1e-9 * expected);
  for (double c : h.counts) CHECK(c >= 0);

  // A layer whose weights are all equal goes into one bin; unusable layers are skipped.
  WeightHistogram point{"fc5", 0.25, 0.25, {7}};
  WeightHistogram broken{"fc6", std::nan(""), 1, {9}};
  h = pool_weight_histograms({a, point, broken}, 4);
  CHECK(total(h.counts) == doctest::Approx(10));
  CHECK(h.max == 0.25);
  // The last bin, [−0.0625, 0.25]: the 7 equal weights and 1/8 of fc1's upper bin (2 weights).
  CHECK(h.counts[3] == doctest::Approx(7.25));
  CHECK(pool_weight_histograms({broken}, 4).counts.empty());
  CHECK_THROWS_WITH_AS(pool_weight_histograms({a}, 0),
                       "pool_weight_histograms needs bins >= 1: got 0", std::invalid_argument);
}

TEST_CASE("surfaces: one grid, data sets across, clipping above the penalty") {
  TempDir tmp("compare_surfaces");
  write_run(tmp / "gp8", 3, "8gaussians", true, "wgan-gp");
  write_run(tmp / "clip8", 3, "8gaussians", true, "wgan");
  write_run(tmp / "clipswiss", 3, "swissroll", true, "wgan");
  fs::create_directories(tmp / "out");
  CompareOptions o;
  o.output = tmp / "out/figure1a.html";
  const ComparisonResult r = write_comparison({tmp / "gp8", tmp / "clip8", tmp / "clipswiss"},
                                              ComparisonFigure::kSurfaces, o);
  CHECK(r.html_path == tmp / "out/figure1a.html");
  CHECK(r.labels == std::vector<std::string>{"gradient penalty λ = 0.1, 8 Gaussians",
                                             "weight clipping c = 0.01, 8 Gaussians",
                                             "weight clipping c = 0.01, Swiss roll"});
  CHECK(r.charts == 1);
  CHECK(r.chart_files == std::vector<std::string>{tmp / "out/charts/figure1a-surfaces.svg",
                                                  tmp / "out/charts/figure1a-surfaces.png"});
  const std::string html = read_text(r.html_path);
  const XmlCheck check = check_markup(html, true);
  INFO(check.problem);
  CHECK(check.ok);
  CHECK(html.rfind("<!DOCTYPE html>", 0) == 0);
  CHECK(html.find("document.body.dataset.charts") != std::string::npos);
  CHECK(count_of(html, "class=\"chart\"") == 1);
  // Three panels, each with its own colour scale (surface PNG) and a blank cell (no penalty run
  // on the Swiss roll), the clipping row above the penalty row.
  CHECK(count_of(html, "href=\"data:image/png;base64,") == 3);
  CHECK(count_of(html, "-bar)\"") == 3);
  CHECK(html.find(">no run<") != std::string::npos);
  const std::size_t clip_row = html.find(">weight clipping c = 0.01</text>");
  const std::size_t gp_row = html.find(">gradient penalty λ = 0.1</text>");
  CHECK(clip_row != std::string::npos);
  CHECK(gp_row != std::string::npos);
  CHECK(clip_row < gp_row);
  CHECK(html.find(">Swiss roll</text>") != std::string::npos);
  // Labels from config.json, never the directory's name; the directory is in the table.
  CHECK(html.find("<code class=\"dir\">" + tmp / "clip8" + "</code>") != std::string::npos);
  CHECK(html.find("all: MLP 3×16 · 200 steps") != std::string::npos);

  const std::string svg = read_text(tmp / "out/charts/figure1a-surfaces.svg");
  CHECK(svg.rfind("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg xmlns=", 0) == 0);
  CHECK(check_markup(svg).ok);
  CHECK(read_text(tmp / "out/charts/figure1a-surfaces.png").compare(0, 8, "\x89PNG\r\n\x1a\n") ==
        0);
  for (const auto& e : fs::recursive_directory_iterator(tmp / "out"))
    CHECK_MESSAGE(e.path().string().find(".tmp") == std::string::npos, e.path().string());
}

TEST_CASE("gradients: the per-layer profile and pooled weights of each run") {
  TempDir tmp("compare_gradients");
  write_run(tmp / "clip", 4, "swissroll", false, "wgan");
  write_run(tmp / "gp", 4, "swissroll", false, "wgan-gp");
  CompareOptions o;
  o.output = tmp / "fig1b.html";
  o.png = false;
  const ComparisonResult r =
      write_comparison({tmp / "clip", tmp / "gp"}, ComparisonFigure::kGradients, o);
  CHECK(r.labels ==
        std::vector<std::string>{"weight clipping c = 0.01", "gradient penalty λ = 0.1"});
  const std::string html = read_text(r.html_path);
  CHECK(check_markup(html, true).ok);
  // The figure (profile + histograms), the ratio over time, the share at ±c (clipping run).
  CHECK(r.charts == 3);
  for (const char* id : {"gradients", "grad_ratio", "weight_at_clip"}) {
    CHECK_MESSAGE(html.find(std::string("class=\"chart\" id=\"") + id + "\"") != std::string::npos,
                  id);
    CHECK_MESSAGE(fs::exists(tmp / (std::string("charts/fig1b-") + id + ".svg")), id);
  }
  CHECK_FALSE(fs::exists(tmp / "charts/fig1b-gradients.png"));
  // Both runs in the profile's legend; one histogram per run, ±c marked on the clipping one.
  CHECK(count_of(html, ">weight clipping c = 0.01</text>") >= 3);
  CHECK(count_of(html, ">−c</text>") == 1);
  CHECK(html.find(">fc1</text>") != std::string::npos);
  // The table: ‖∂L/∂h‖ of the first and last layer (fixture: 0.05 and 0.0884).
  CHECK(html.find("<td>0.05</td><td>0.0884</td><td>0.566</td>") != std::string::npos);
  CHECK(html.find("Not drawn") == std::string::npos);

  // A norm of exactly 0 (float32 underflow) cannot be drawn on a log axis: the caption says so.
  const std::string metrics =
      std::regex_replace(read_text(tmp / "clip/metrics.jsonl"),
                         std::regex(R"re(("activation_grad_norm"|"fc1"): 0\.050*\d*)re"), "$1: 0");
  write_text(tmp / "clip/metrics.jsonl", metrics);
  write_comparison({tmp / "clip", tmp / "gp"}, ComparisonFigure::kGradients, o);
  CHECK(read_text(r.html_path)
            .find("Not drawn: norms of exactly 0, where the gradient underflowed float32 (weight "
                  "clipping c = 0.01 at fc1).") != std::string::npos);
}

TEST_CASE("quality: curves of every run, FID from eval files, the table") {
  TempDir tmp("compare_quality");
  write_run(tmp / "gan", 3, "fashion-mnist", false, "gan");
  write_run(tmp / "wgan", 3, "fashion-mnist", false, "wgan");
  write_evals(tmp / "gan", {{100, 350.5}, {200, 120.5}});
  write_evals(tmp / "wgan", {{200, 90}});
  CompareOptions o;
  o.output = tmp / "fashion.html";
  o.png = false;
  const ComparisonResult r =
      write_comparison({tmp / "gan", tmp / "wgan"}, ComparisonFigure::kQuality, o);
  const std::string html = read_text(r.html_path);
  CHECK(check_markup(html, true).ok);
  for (const char* id :
       {"wasserstein", "critic_loss", "fid", "inception_score", "grad_norm", "critic_bound"})
    CHECK_MESSAGE(html.find(std::string("class=\"chart\" id=\"") + id + "\"") != std::string::npos,
                  id);
  CHECK(html.find("id=\"modes_covered\"") == std::string::npos);  // image data: no modes
  CHECK(r.charts == 6);
  CHECK(html.find("not comparable across objectives") != std::string::npos);
  CHECK(html.find("<td>120.5 (step 200)</td>") != std::string::npos);
  CHECK(html.find("<td>90 (step 200)</td>") != std::string::npos);
  // The latest samples of both runs, embedded.
  CHECK(count_of(html, "<img src=\"data:image/png;base64,") == 2);

  // Toy mixtures: modes and high-quality share, no FID without eval files.
  write_run(tmp / "toy_gp", 3, "8gaussians", false, "wgan-gp");
  write_run(tmp / "toy_clip", 3, "8gaussians", false, "wgan");
  o.output = tmp / "toy.html";
  const ComparisonResult toy =
      write_comparison({tmp / "toy_gp", tmp / "toy_clip"}, ComparisonFigure::kQuality, o);
  const std::string toy_html = read_text(toy.html_path);
  CHECK(toy_html.find("id=\"modes_covered\"") != std::string::npos);
  CHECK(toy_html.find("id=\"high_quality\"") != std::string::npos);
  CHECK(toy_html.find("id=\"fid\"") == std::string::npos);
  CHECK(toy_html.find("<td>8 / 8</td>") != std::string::npos);
  CHECK(toy_html.find("WGAN-GP target 1") != std::string::npos);
}

TEST_CASE("comparison errors name the run") {
  TempDir tmp("compare_errors");
  write_run(tmp / "run", 3, "swissroll", false, "wgan");
  CHECK_THROWS_WITH_AS(write_comparison({}, ComparisonFigure::kQuality),
                       "a comparison needs at least one run directory: got none",
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(write_comparison({tmp / "run", tmp.str()}, ComparisonFigure::kQuality),
                       (tmp.str() + ": not a run directory (no config.json)").c_str(),
                       RunFormatError);
  CHECK_THROWS_WITH_AS(
      write_comparison({tmp / "run"}, ComparisonFigure::kSurfaces),
      (tmp / "run" +
       ": no critic surface (samples/surface_step_N.json): --figure surfaces needs runs on 2-D "
       "data (8gaussians, 25gaussians, swissroll) with samples written (--sample-every)")
          .c_str(),
      ComparisonError);
  // Records without per-layer gradient norms.
  write_run(tmp / "bare", 2, "swissroll", false, "wgan");
  write_text(tmp / "bare/metrics.jsonl",
             "{\"step\": 0, \"critic_loss\": 1}\n{\"step\": 100, \"critic_loss\": 0.5}\n");
  CHECK_THROWS_WITH_AS(
      write_comparison({tmp / "run", tmp / "bare"}, ComparisonFigure::kGradients),
      (tmp / "bare" + ": no per-layer gradient norms (layer_grad_norms) in metrics.jsonl: "
                      "--figure gradients needs records written by the monitor")
          .c_str(),
      ComparisonError);
  // A malformed eval file names the file.
  write_text(tmp / "run/eval_step_0000100.json", "{\"step\": 100, \"frechet_distance\": \"x\"}");
  CHECK_THROWS_WITH_AS(
      write_comparison({tmp / "run"}, ComparisonFigure::kQuality),
      (tmp /
       "run/eval_step_0000100.json: \"frechet_distance\" must be a number or null, got string")
          .c_str(),
      RunFormatError);
}
