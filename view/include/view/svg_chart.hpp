#pragma once
/// \file svg_chart.hpp
/// Charts as self-contained SVG text: plain data in, one `<svg>` element out. Nothing needs
/// JavaScript or a network to draw: fonts are the system's (DejaVu Sans first), the critic
/// surface is an embedded PNG data URI, every size is a fixed viewBox, so a chart scales with
/// the page and renders the same in a browser and in librsvg (png_export.hpp).
///
/// Colours come from the Okabe–Ito palette (safe for the common colour-vision deficiencies);
/// after eight series the colours repeat with a dash pattern. The surface uses viridis.
///
/// Every chart's drawn marks sit in one `<g class="data">`, and its root carries
/// `class="chart"` and `id` = the chart's id, which must be unique within a page (it prefixes
/// the chart's internal ids, e.g. its clip path).
///
/// Example:
/// \code
///   LineChart c;
///   c.id = "wasserstein";
///   c.title = "Wasserstein estimate";
///   c.x_label = "step";
///   c.series.push_back({"train", {0, 100, 200}, {0.01, 0.8, 0.5}});
///   std::string svg = render_line_chart(c);
/// \endcode

#include <cstddef>
#include <limits>
#include <string>
#include <utility>
#include <vector>

namespace lipschitz::view {

/// How a y axis maps values.
enum class AxisScale {
  kLinear,  ///< evenly spaced values; ticks 1-2-5 × 10^k
  kLog,     ///< log10; ticks at decades. Values ≤ 0 are not drawn (gaps).
};

/// How a line is stroked.
enum class LineStyle {
  kSolid,   ///< a plain line
  kDashed,  ///< long dashes (reference quantities: a bound, held-out data)
  kDotted,  ///< dots
};

/// One line of a line chart. A point whose x or y is not finite (or y ≤ 0 on a log axis) is a
/// gap: the line stops before it and starts again after it.
struct Series {
  std::string label;      ///< legend text
  std::vector<double> x;  ///< one per point; for a categorical chart, the category index
  std::vector<double> y;  ///< one per point
  /// Optional shaded band (e.g. mean ± std, or min … max): empty, or one value each per point.
  std::vector<double> band_low;
  std::vector<double> band_high;
  LineStyle style = LineStyle::kSolid;
  int colour = -1;          ///< palette index (palette_colour); −1: the series' position
  double line_width = 2.0;  ///< in viewBox units
  bool markers = false;     ///< a dot at every point (isolated points always get one)
};

/// A horizontal line across the plot at a fixed y, with a label (e.g. the WGAN-GP target 1).
struct ReferenceLine {
  double value = 0;
  std::string label;
};

/// A chart of several series against a shared x axis.
struct LineChart {
  std::string id = "chart";  ///< unique within a page; [A-Za-z0-9_-] only
  std::string title;
  std::string x_label;
  std::string y_label;
  AxisScale y_scale = AxisScale::kLinear;
  std::vector<Series> series;
  /// When not empty the x axis is categorical: x values are indices into this list, and the
  /// ticks are its names (the layer profile of Figure 1b).
  std::vector<std::string> x_categories;
  std::vector<ReferenceLine> reference_lines;
  /// Forced y range ends; NaN: from the data (linear axes widened to nice ticks).
  double y_min = std::numeric_limits<double>::quiet_NaN();
  double y_max = std::numeric_limits<double>::quiet_NaN();
  double width = 640;   ///< viewBox width
  double height = 360;  ///< viewBox height
};

/// Several series over the layers of a network, log y (Gulrajani et al. 2017, Figure 1b: the
/// gradient norm at each layer, one line per setting or, here, per training step).
struct LayerProfile {
  std::string id = "profile";
  std::string title;
  std::string y_label;
  std::vector<std::string> layers;  ///< x categories, input to output
  /// (legend label, one value per layer); NaN or ≤ 0 values are gaps.
  std::vector<std::pair<std::string, std::vector<double>>> lines;
  double width = 640;
  double height = 360;
};

/// A scalar field on a regular grid over a rectangle, as a colour image with a colour bar,
/// contour lines, and two point sets on top (Gulrajani et al. 2017, Figure 1a).
struct Heatmap {
  std::string id = "heatmap";
  std::string title;
  std::string x_label = "x";
  std::string y_label = "y";
  std::string value_label = "value";  ///< colour bar caption
  double x_min = 0, x_max = 1, y_min = 0, y_max = 1;
  int columns = 0;  ///< cells per row
  int rows = 0;     ///< rows; row 0 lies at y_min (the bottom)
  /// columns·rows values, row-major; NaN cells are left blank.
  std::vector<double> values;
  std::vector<std::pair<double, double>> real;  ///< drawn as white circles
  std::vector<std::pair<double, double>> fake;  ///< drawn as vermillion triangles
  std::string real_label = "real data";
  std::string fake_label = "generated";
  bool legend = true;            ///< the legend of the two point sets above the plot
  int contour_levels = 8;        ///< about this many contour lines (nice values); 0: none
  std::size_t max_points = 600;  ///< per point set; more are thinned evenly
  double plot_size = 440;        ///< side of the square plot, in viewBox units
};

/// Bars of equal width from `min` to `max`.
struct Histogram {
  std::string id = "histogram";
  std::string title;
  std::string x_label;
  double min = 0;
  double max = 1;
  std::vector<double> counts;  ///< one per bin; NaN counts as 0
  /// Vertical marker lines (e.g. the clipping bounds ±c), each with a label.
  std::vector<std::pair<double, std::string>> markers;
  int colour = 0;  ///< palette index of the bars
  double width = 320;
  double height = 210;
};

/// Several charts as one SVG: a figure of panels, as in Gulrajani et al. (2017), Figure 1a (data
/// sets across, objectives down). Each cell is an `<svg>` returned by one of the render_*
/// functions (a ChartGrid too), nested at its place; the ids of the cells must differ (they
/// prefix the cells' internal ids). A column is as wide as its widest cell, a row as tall as its
/// tallest; a smaller cell sits at the top left of its place.
struct ChartGrid {
  std::string id = "grid";
  std::string title;
  int columns = 1;                         ///< cells per row, ≥ 1
  std::vector<std::string> cells;          ///< row-major; an empty string is a blank cell
  std::vector<std::string> column_titles;  ///< headings above the columns (bold); may be empty
  std::vector<std::string> row_titles;     ///< headings left of the rows (rotated); may be empty
  /// One legend of the heatmap point sets under the title (for cells drawn without their own:
  /// Heatmap::legend = false).
  bool point_legend = false;
  std::string real_label = "real data";
  std::string fake_label = "generated";
  std::string empty_text;  ///< written in the middle of a blank cell, e.g. "no run"
};

/// Colour `index` of the Okabe–Ito palette as "#rrggbb", in the order blue, orange, bluish
/// green, vermillion, reddish purple, sky blue, black, yellow (repeating).
std::string palette_colour(int index);

/// Whether render_line_chart would draw at least one mark (a finite point of some series).
bool has_data(const LineChart& chart);

/// The chart as an `<svg>` element (no XML declaration), a "no data" note when has_data is
/// false. Throws std::invalid_argument when a series' x and y (or band) lengths differ.
std::string render_line_chart(const LineChart& chart);

/// The profile as a categorical line chart with a log y axis and markers.
std::string render_layer_profile(const LayerProfile& profile);

/// The heatmap. Throws std::invalid_argument unless values.size() == columns·rows, both ≥ 1,
/// and x_min < x_max, y_min < y_max.
std::string render_heatmap(const Heatmap& heatmap);

/// The histogram. Throws std::invalid_argument for no bins or max < min.
std::string render_histogram(const Histogram& histogram);

/// The grid as one `<svg>` element. Throws std::invalid_argument for columns < 1 or a cell that
/// is not an `<svg>` with a width and a height.
std::string render_chart_grid(const ChartGrid& grid);

/// viridis(t) for t in [0, 1] (clamped) as 8-bit red, green, blue.
void viridis(double t, unsigned char rgb[3]);

}  // namespace lipschitz::view
