// Tests page.hpp: the page is one self-contained, well-formed file (no external URL, images
// embedded), holds the alerts and every chart, and write_view writes it and the chart files
// atomically.
#include <doctest/doctest.h>
#include <view/page.hpp>

#include "run_fixture.hpp"
#include "xml_check.hpp"

#include <filesystem>
#include <regex>
#include <string>

using namespace lipschitz::view;
using namespace lipschitz::view::testing;
namespace fs = std::filesystem;

namespace {

/// Every http:// or https:// in `html` other than the SVG namespace on each chart's root.
std::size_t external_urls(const std::string& html) {
  const std::string allowed = "xmlns=\"http://www.w3.org/2000/svg\"";
  std::size_t n = 0;
  for (const char* scheme : {"http://", "https://"})
    for (std::size_t i = html.find(scheme); i != std::string::npos; i = html.find(scheme, i + 1)) {
      const std::size_t start = i >= 7 ? i - 7 : 0;
      if (html.compare(start, allowed.size(), allowed) != 0) ++n;
    }
  return n;
}

std::size_t files_in(const std::string& dir, const std::string& extension) {
  std::size_t n = 0;
  for (const auto& e : fs::directory_iterator(dir)) n += e.path().extension() == extension;
  return n;
}

}  // namespace

TEST_CASE("write_view: a self-contained page and the chart files") {
  TempDir tmp("page_write");
  const std::string dir = tmp / "run";
  write_run(dir, 7);
  const ViewResult r = write_view(dir);
  CHECK(r.html_path == (fs::path(dir) / "view.html").string());
  CHECK(r.records == 7);
  CHECK_FALSE(r.truncated_last_line);
  const std::string html = read_text(r.html_path);

  const XmlCheck check = check_markup(html, true);
  INFO(check.problem);
  CHECK(check.ok);
  CHECK(html.rfind("<!DOCTYPE html>", 0) == 0);
  CHECK(external_urls(html) == 0);
  CHECK(html.find("src=\"http") == std::string::npos);
  CHECK(html.find("<link") == std::string::npos);

  // Charts: losses ×2, gradient norms + penalty, spectral norms + profile, 3 histograms, sample
  // quality, the critic surface.
  CHECK(r.charts == 11);
  CHECK(count_of(html, "<svg xmlns=") == r.charts);
  for (const char* id : {"wasserstein", "critic_loss", "grad_norms", "gradient_penalty",
                         "spectral_norms", "layer_grad_profile", "weight_hist_fc1",
                         "weight_hist_fc3", "sample_quality", "critic_surface"})
    CHECK_MESSAGE(html.find(std::string("class=\"chart\" id=\"") + id + "\"") != std::string::npos,
                  id);
  // Pictures: the latest and 4 earlier of the 5 earlier ones (evenly spaced), plus the
  // surface's own embedded raster.
  CHECK(count_of(html, "<img src=\"data:image/png;base64,iVBORw0KGgo") == 5);
  CHECK(html.find("step 600 (latest)") != std::string::npos);
  CHECK(html.find(">step 100</figcaption>") != std::string::npos);
  CHECK(html.find(">step 500</figcaption>") != std::string::npos);
  CHECK(count_of(html, "href=\"data:image/png;base64,") == 1);
  // Header facts, the no-alerts box, the settings.
  CHECK(html.find("WGAN-GP (λ = 0.1)") != std::string::npos);
  CHECK(html.find("600 / 600") != std::string::npos);
  CHECK(html.find("<h2>No alerts</h2>") != std::string::npos);
  CHECK(html.find("<code>batch_size</code>") != std::string::npos);
  CHECK(html.find("document.body.dataset.charts") != std::string::npos);

  // Each chart as SVG and PNG; nothing temporary left behind.
  const std::string charts = dir + "/charts";
  CHECK(files_in(charts, ".svg") == r.charts);
  CHECK(files_in(charts, ".png") == r.charts);
  CHECK(r.chart_files.size() == 2 * r.charts);
  const std::string svg = read_text(charts + "/spectral_norms.svg");
  CHECK(svg.rfind("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg xmlns=", 0) == 0);
  CHECK(check_markup(svg).ok);
  CHECK(read_text(charts + "/critic_surface.png").compare(0, 8, "\x89PNG\r\n\x1a\n") == 0);
  for (const auto& e : fs::recursive_directory_iterator(dir))
    CHECK_MESSAGE(e.path().string().find(".tmp") == std::string::npos, e.path().string());
}

TEST_CASE("write_view options: another output file, SVG only, no chart files") {
  TempDir tmp("page_options");
  const std::string dir = tmp / "run";
  write_run(dir, 3, "fashion-mnist", false);
  fs::create_directories(tmp / "out");
  ViewOptions o;
  o.output = tmp / "out/page.html";
  o.png = false;
  const ViewResult r = write_view(dir, o);
  CHECK(fs::exists(tmp / "out/page.html"));
  CHECK_FALSE(fs::exists(dir + "/view.html"));
  CHECK(files_in(tmp / "out/charts", ".svg") == r.charts);
  CHECK(files_in(tmp / "out/charts", ".png") == 0);
  // Image data: no sample-quality chart, no surface; histograms still there.
  const std::string html = read_text(r.html_path);
  CHECK(html.find("id=\"sample_quality\"") == std::string::npos);
  CHECK(html.find("id=\"critic_surface\"") == std::string::npos);
  CHECK(html.find("id=\"weight_hist_fc2\"") != std::string::npos);

  o.chart_files = false;
  o.output = tmp / "out/bare.html";
  const ViewResult bare = write_view(dir, o);
  CHECK(bare.chart_files.empty());
  CHECK(fs::exists(tmp / "out/bare.html"));
}

TEST_CASE("a page while training: no summary, a partial last record, no histograms yet") {
  TempDir tmp("page_running");
  const std::string dir = tmp / "run";
  write_run(dir, 2, "8gaussians", false);
  fs::remove(dir + "/summary.json");
  fs::remove_all(dir + "/samples");
  write_text(dir + "/metrics.jsonl", record_json(0, 1, 0.5, 0.5, 1, false) + "\n" +
                                         record_json(100, 1, 0.5, 0.5, 1, false) + "\n" +
                                         record_json(200).substr(0, 120));
  const ViewResult r = write_view(dir);
  CHECK(r.records == 2);
  CHECK(r.truncated_last_line);
  const std::string html = read_text(r.html_path);
  CHECK(check_markup(html, true).ok);
  CHECK(html.find(">running<") != std::string::npos);
  CHECK(html.find("last record being written") != std::string::npos);
  CHECK(html.find("No sample pictures yet") != std::string::npos);
  CHECK(html.find("id=\"weight_hist_") == std::string::npos);
  CHECK(html.find("<img") == std::string::npos);
}

TEST_CASE("alerts are in the page, escaped, critical first") {
  TempDir tmp("page_alerts");
  const std::string dir = tmp / "run";
  write_run(dir, 8, "8gaussians", false);
  std::string lines;
  for (int i = 0; i < 8; ++i)
    lines += record_json(100LL * i, i >= 2 ? 5.4 : 2.16, 0.5, 0.5, i == 7 ? 30.0 : 1.0) + "\n";
  lines += "{\"step\": 800, \"critic_loss\": null}\n";
  write_text(dir + "/metrics.jsonl", lines);
  const ViewResult r = write_view(dir);
  REQUIRE(r.alerts.size() >= 3);
  CHECK(r.alerts[0].kind == AlertKind::kNonFinite);
  const std::string html = read_text(r.html_path);
  CHECK(html.find("class=\"alerts crit\"") != std::string::npos);
  CHECK(html.find("<span class=\"kind\">non_finite</span>") != std::string::npos);
  CHECK(html.find("<span class=\"kind\">gradient_norm_drift</span>") != std::string::npos);
  CHECK(html.find("<span class=\"kind\">spectral_norm_growth fc1</span>") != std::string::npos);
  CHECK(html.find("E‖∇D(x̂)‖ = 5.4 at step 700") != std::string::npos);
  CHECK(check_markup(html, true).ok);
}

TEST_CASE("write_view errors name the file") {
  TempDir tmp("page_errors");
  CHECK_THROWS_WITH_AS(write_view(tmp / "nothing"),
                       (tmp / "nothing" + ": no such directory").c_str(), RunFormatError);
  const std::string dir = tmp / "run";
  write_run(dir, 3);
  write_text(dir + "/samples/surface_step_0000200.json", "{\"x_range\": [0, 1]}");
  fs::remove(dir + "/samples/surface_step_0000300.json");
  CHECK_THROWS_WITH_AS(
      write_view(dir),
      (dir + "/samples/surface_step_0000200.json: \"y_range\" must be [low, high]").c_str(),
      RunFormatError);
  fs::remove(dir + "/samples/surface_step_0000200.json");
  ViewOptions o;
  o.output = tmp / "no/such/dir/view.html";
  o.chart_files = false;
  CHECK_THROWS_WITH_AS(write_view(dir, o), doctest::Contains("no/such/dir/view.html: cannot write"),
                       std::runtime_error);
}
