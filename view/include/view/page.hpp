#pragma once
/// \file page.hpp
/// The run's page: one self-contained HTML file (inline CSS, inline SVG charts, sample PNGs as
/// base64 data URIs; no external URL) with the run's facts, its stability alerts and every chart,
/// plus each chart as `charts/NAME.svg` (and `NAME.png`) beside it for papers. docs/view.md
/// lists the charts.
///
/// Example:
/// \code
///   lipschitz::view::ViewOptions options;
///   options.png = false;  // e.g. while training: the page and SVGs only
///   const auto result = lipschitz::view::write_view("runs/8g", options);
///   std::cout << result.html_path << '\n';  // runs/8g/view.html
/// \endcode

#include <view/alerts.hpp>
#include <view/run_data.hpp>

#include <string>
#include <vector>

namespace lipschitz::view {

/// What write_view writes.
struct ViewOptions {
  /// The HTML file; empty: RUN_DIR/view.html. Its directory must exist.
  std::string output;
  /// Also write each chart as CHARTS/NAME.svg, where CHARTS is `charts/` in the HTML file's
  /// directory.
  bool chart_files = true;
  /// Also NAME.png (librsvg), at `png_scale` × the chart's size. Only with chart_files.
  bool png = true;
  /// PNG scale, in (0, 16]; 2 gives 1280×720 pixels for a 640×360 chart.
  double png_scale = 2.0;
  /// Earlier sample pictures shown beside the latest one, evenly spaced over the run; ≥ 0.
  int earlier_samples = 4;
  /// Training steps drawn in the per-layer gradient profile (Figure 1b), evenly spaced; ≥ 1.
  int profile_steps = 5;
  /// Alert thresholds.
  AlertOptions alerts;
};

/// One chart of the page.
struct NamedChart {
  std::string name;     ///< file name stem: "wasserstein", "weight_hist_fc1", …
  std::string title;    ///< what it shows
  std::string section;  ///< the page section it belongs to
  std::string svg;      ///< the `<svg>` element
};

/// The page in memory.
struct Page {
  std::string html;
  std::vector<NamedChart> charts;  ///< every chart drawn in the page, in page order
};

/// What write_view did.
struct ViewResult {
  std::string html_path;                 ///< the page written
  std::vector<std::string> chart_files;  ///< SVG (and PNG) files written
  std::vector<Alert> alerts;             ///< what detect_alerts found (also in the page)
  std::size_t charts = 0;                ///< charts in the page
  std::size_t records = 0;               ///< monitoring records read
  bool truncated_last_line = false;      ///< metrics.jsonl ended in a partial record
};

/// Builds the page for a run read by read_run, with its alerts. Reads the sample PNGs and the
/// latest critic surface named in `run` (a file that vanished meanwhile is skipped; a malformed
/// surface file throws RunFormatError). `generated_at` is shown in the footer (e.g. an ISO time).
Page build_page(const RunData& run, const std::vector<Alert>& alerts, const ViewOptions& options,
                const std::string& generated_at);

/// Reads RUN_DIR, detects alerts, and writes the page (to a temporary file renamed over the
/// target, so a browser or the trainer never sees a half-written page) and, per the options,
/// the chart files. Throws RunFormatError for an unreadable run, std::runtime_error naming the
/// file for a write failure, PngError if librsvg fails.
ViewResult write_view(const std::string& run_dir, const ViewOptions& options = {});

}  // namespace lipschitz::view
