#pragma once
/// \file compare.hpp
/// Comparison pages: several runs in one self-contained HTML page (inline SVG, pictures as data
/// URIs, no external URL), as the figures of Gulrajani et al. (2017) compare them, plus each
/// figure as `charts/STEM-NAME.svg` (and `.png`) beside the page. docs/view.md, "Comparing runs",
/// lists the figures and their charts.
///
/// Each run is labelled from its config.json (objective with c or λ, data, model, …), by what
/// tells it apart from the other runs; what they all share is said once, in the page's subtitle.
///
/// Example:
/// \code
///   using namespace lipschitz::view;
///   CompareOptions options;
///   options.output = "runs/reproduction/figure1a.html";
///   const ComparisonResult r = write_comparison(
///       {"runs/fig1a-8gaussians-clip", "runs/fig1a-8gaussians-gp"}, ComparisonFigure::kSurfaces,
///       options);
///   // r.labels: {"weight clipping c = 0.01", "gradient penalty λ = 0.1"}
/// \endcode

#include <view/page.hpp>
#include <view/run_data.hpp>
#include <view/svg_chart.hpp>

#include <cstddef>
#include <stdexcept>
#include <string>
#include <vector>

namespace lipschitz::view {

/// Which comparison to draw.
enum class ComparisonFigure {
  /// Gulrajani et al. (2017), Figure 1a: the latest critic value surface of each run with the
  /// real and generated points, data sets across, objectives down (weight clipping above, the
  /// gradient penalty below). Needs a surface file (2-D data) in every run.
  kSurfaces,
  /// Figure 1b: the per-layer gradient norms ‖∂L/∂hₗ‖ of each run's last record against the
  /// layer (log scale), and each run's weights pooled over the layers in one histogram. Needs
  /// per-layer gradient norms in every run.
  kGradients,
  /// Training curves across runs (W estimate, critic loss, modes covered, high-quality share,
  /// gradient norm at interpolates, certified bound, classifier FID from eval files), a table
  /// of final values and the latest samples. Any runs.
  kQuality,
};

/// "surfaces", "gradients", "quality".
std::string to_string(ComparisonFigure figure);
/// The inverse of to_string; throws std::invalid_argument listing the names.
ComparisonFigure comparison_figure_from_string(const std::string& name);

/// A run that cannot be drawn in the figure asked for: no critic surface for `surfaces`, no
/// per-layer gradient norms for `gradients`. The message names the run directory and what it
/// lacks.
class ComparisonError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// What write_comparison writes.
struct CompareOptions {
  /// The HTML file; empty: `compare-FIGURE.html` in the current directory. Its directory must
  /// exist.
  std::string output;
  /// Also write each chart as CHARTS/STEM-NAME.svg, where CHARTS is `charts/` in the HTML
  /// file's directory and STEM its name without `.html` (so several pages can share one
  /// directory).
  bool chart_files = true;
  /// Also STEM-NAME.png (librsvg), at `png_scale` × the chart's size. Only with chart_files.
  bool png = true;
  /// PNG scale, in (0, 16].
  double png_scale = 2.0;
};

/// The comparison page in memory.
struct ComparisonPage {
  std::string html;
  std::vector<NamedChart> charts;   ///< every chart in the page, in page order
  std::vector<std::string> labels;  ///< one per run, in the order given
};

/// What write_comparison did.
struct ComparisonResult {
  std::string html_path;                 ///< the page written
  std::vector<std::string> chart_files;  ///< SVG (and PNG) files written
  std::vector<std::string> labels;       ///< one per run, in the order given
  std::size_t charts = 0;                ///< charts in the page
};

/// A label for each run that tells it apart from the others: the parts of objective (with c or
/// λ), data, model and fixed generator that differ between the runs, in that order ("weight
/// clipping c = 0.1", "gradient penalty λ = 10, Swiss roll"). Runs whose parts all agree get the
/// config.json entries that differ ("…, seed 1"). With one run, or runs alike in every part, the
/// objective.
std::vector<std::string> run_labels(const std::vector<RunConfig>& configs);

/// The parts that all runs share, joined by " · " ("Swiss roll · MLP 12×512 · 500 steps"; "fixed
/// generator" when all have one, nothing for a trained one); "" when none.
std::string shared_description(const std::vector<RunConfig>& configs);

/// Every layer's weight histogram (a record's `weight_histograms`) summed onto `bins` equal-width
/// bins over the union of the layers' ranges, as Gulrajani et al. (2017), Figure 1b (right),
/// pools the layers. A layer's bin is spread over the bins it overlaps in proportion to the
/// overlap, so the total count is kept. Returns min, max and counts (no counts when no layer has
/// a usable histogram). Throws std::invalid_argument for bins < 1.
/// Example: two layers over [−1, 0] and [0, 1] with 2 bins each, pooled onto 4 bins, keep their
/// counts in order.
Histogram pool_weight_histograms(const std::vector<WeightHistogram>& layers, int bins = 60);

/// Builds the page for runs read by read_run (at least one). Reads the surface files and
/// sample pictures and eval files named in the runs. Throws ComparisonError when a run lacks
/// what the figure needs, RunFormatError for a malformed file. `generated_at` goes in the
/// footer.
ComparisonPage build_comparison(const std::vector<RunData>& runs, ComparisonFigure figure,
                                const std::string& generated_at);

/// Reads each run directory (at least one), builds the page and writes it (to a temporary file
/// renamed over the target) and, per the options, the chart files. Throws std::invalid_argument
/// for no runs, RunFormatError for a directory that is not a run or a malformed file,
/// ComparisonError for a run that lacks what the figure needs, std::runtime_error naming the file
/// for a write failure, PngError if librsvg fails.
ComparisonResult write_comparison(const std::vector<std::string>& run_dirs, ComparisonFigure figure,
                                  const CompareOptions& options = {});

}  // namespace lipschitz::view
