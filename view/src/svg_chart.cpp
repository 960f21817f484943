// SVG charts: line charts (linear or log y), layer profiles, heatmaps, histograms.

#include <view/svg_chart.hpp>

#include <view/axis.hpp>
#include <view/encoding.hpp>
#include <view/png_export.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <iterator>
#include <stdexcept>

namespace lipschitz::view {
namespace {

constexpr const char* kFontFamily = "DejaVu Sans, Verdana, Helvetica, Arial, sans-serif";
constexpr double kTitleSize = 15;
constexpr double kLabelSize = 13;
constexpr double kTickSize = 12;
constexpr double kLegendSize = 12;
constexpr const char* kInk = "#222222";        // titles and labels
constexpr const char* kAxisInk = "#555555";    // axes and tick labels
constexpr const char* kGrid = "#e4e4e4";       // major grid
constexpr const char* kMinorGrid = "#f2f2f2";  // log axes: 2…9 × 10^k

/// A coordinate with one decimal (a tenth of a viewBox unit is below a pixel at 2× scale).
std::string num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", v);
  std::string s = buf;
  if (s == "-0.0") s = "0.0";
  if (s.size() > 2 && s.compare(s.size() - 2, 2, ".0") == 0) s.resize(s.size() - 2);
  return s;
}

/// Approximate advance width of UTF-8 text in DejaVu Sans (average glyph ≈ 0.6 em); combining
/// marks (U+0300–U+036F, as in x̂) take no space.
double text_width(const std::string& s, double size) {
  double n = 0;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if ((c & 0xC0) == 0x80) continue;
    if (c == 0xCC || (c == 0xCD && i + 1 < s.size() && static_cast<unsigned char>(s[i + 1]) < 0xB0))
      continue;
    n += (c == ' ' || c == '.' || c == ',' || c == 'i' || c == 'l' || c == '(' || c == ')') ? 0.4
                                                                                            : 0.62;
  }
  return n * size;
}

std::string svg_open(const std::string& id, double width, double height, const std::string& title) {
  std::string s = "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 " + num(width) + " " +
                  num(height) + "\" width=\"" + num(width) + "\" height=\"" + num(height) +
                  "\" class=\"chart\" id=\"" + xml_escape(id) + "\" role=\"img\" aria-label=\"" +
                  xml_escape(title) + "\" font-family=\"" + kFontFamily + "\" font-size=\"" +
                  num(kTickSize) + "\">\n";
  s += "<title>" + xml_escape(title) + "</title>\n";
  s += "<rect width=\"" + num(width) + "\" height=\"" + num(height) + "\" fill=\"#ffffff\"/>\n";
  return s;
}

std::string text(double x, double y, const std::string& content, double size,
                 const char* anchor = "start", const char* fill = kAxisInk,
                 const std::string& extra = "") {
  return "<text x=\"" + num(x) + "\" y=\"" + num(y) + "\" font-size=\"" + num(size) +
         "\" text-anchor=\"" + anchor + "\" fill=\"" + fill + "\"" +
         (extra.empty() ? "" : " " + extra) + ">" + xml_escape(content) + "</text>\n";
}

/// The chart's title; when `max_width` > 0 and the title is wider, its font shrinks to fit, and
/// below 10 units the title is cut short with "…". Bold text runs about 10 % wider than
/// text_width's estimate.
std::string title_text(double x, const std::string& title, double max_width = 0) {
  if (title.empty()) return "";
  constexpr double kMinSize = 10;
  const auto width = [](const std::string& t, double size) { return 1.1 * text_width(t, size); };
  double size = kTitleSize;
  std::string shown = title;
  if (max_width > 0 && width(title, kTitleSize) > max_width) {
    size = std::max(kMinSize, kTitleSize * max_width / width(title, kTitleSize));
    while (!shown.empty() && width(shown + "…", size) > max_width) {
      // Drop the last UTF-8 character: its continuation bytes, then its first byte.
      while (!shown.empty() && (static_cast<unsigned char>(shown.back()) & 0xC0) == 0x80)
        shown.pop_back();
      if (!shown.empty()) shown.pop_back();
    }
    if (width(title, size) > max_width) shown += "…";  // the full title stays in <title>
  }
  return text(x, 21, shown, size, "start", kInk, "font-weight=\"bold\"");
}

std::string dash_array(LineStyle style) {
  switch (style) {
    case LineStyle::kDashed:
      return " stroke-dasharray=\"7 4\"";
    case LineStyle::kDotted:
      return " stroke-dasharray=\"1.5 3.5\" stroke-linecap=\"round\"";
    case LineStyle::kSolid:
      break;
  }
  return "";
}

/// A plot area in viewBox units.
struct Frame {
  double left, top, width, height;
  double right() const { return left + width; }
  double bottom() const { return top + height; }
};

std::string clip_path(const std::string& id, const Frame& f, double pad) {
  return "<defs><clipPath id=\"" + xml_escape(id) + "-clip\"><rect x=\"" + num(f.left - pad) +
         "\" y=\"" + num(f.top - pad) + "\" width=\"" + num(f.width + 2 * pad) + "\" height=\"" +
         num(f.height + 2 * pad) + "\"/></clipPath></defs>\n";
}

/// The y-axis label, rotated, centred on the plot.
std::string y_axis_label(const Frame& f, const std::string& label) {
  if (label.empty()) return "";
  const double cy = f.top + f.height / 2;
  return "<text transform=\"translate(15 " + num(cy) + ") rotate(-90)\" font-size=\"" +
         num(kLabelSize) + "\" text-anchor=\"middle\" fill=\"" + kInk + "\">" + xml_escape(label) +
         "</text>\n";
}

/// Legend entries laid out left to right, wrapping; returns the SVG and the height used.
struct LegendEntry {
  std::string label;
  std::string swatch;  // SVG drawn with its left edge at (0, 0) baseline-centred, 24 wide
};

std::pair<std::string, double> legend(const std::vector<LegendEntry>& entries, double x0, double y0,
                                      double max_x) {
  if (entries.empty()) return {"", 0};
  std::string s = "<g class=\"legend\">\n";
  double x = x0, y = y0;
  const double row = 18;
  for (const auto& e : entries) {
    const double w = 30 + text_width(e.label, kLegendSize) + 14;
    if (x > x0 && x + w > max_x) {
      x = x0;
      y += row;
    }
    s += "<g transform=\"translate(" + num(x) + " " + num(y + 9) + ")\">" + e.swatch + "</g>\n";
    s += text(x + 30, y + 13, e.label, kLegendSize, "start", kInk);
    x += w;
  }
  s += "</g>\n";
  return {s, y - y0 + row};
}

std::string line_swatch(const std::string& colour, LineStyle style, double width, bool band) {
  std::string s;
  if (band)
    s += "<rect x=\"0\" y=\"-6\" width=\"24\" height=\"12\" fill=\"" + colour +
         "\" fill-opacity=\"0.18\"/>";
  s += "<line x1=\"0\" y1=\"0\" x2=\"24\" y2=\"0\" stroke=\"" + colour + "\" stroke-width=\"" +
       num(std::max(width, 1.5)) + "\"" + dash_array(style) + "/>";
  return s;
}

/// The colour and style of series i: colours repeat after eight, then dashed.
std::pair<std::string, LineStyle> series_look(const Series& s, std::size_t i) {
  const int colour = s.colour >= 0 ? s.colour : static_cast<int>(i);
  LineStyle style = s.style;
  if (s.colour < 0 && style == LineStyle::kSolid && (i / 8) % 2 == 1) style = LineStyle::kDashed;
  return {palette_colour(colour), style};
}

bool finite(double v) { return std::isfinite(v); }

}  // namespace

std::string palette_colour(int index) {
  static const char* const kOkabeIto[] = {"#0072B2", "#E69F00", "#009E73", "#D55E00",
                                          "#CC79A7", "#56B4E9", "#000000", "#F0E442"};
  const int n = static_cast<int>(std::size(kOkabeIto));
  return kOkabeIto[((index % n) + n) % n];
}

void viridis(double t, unsigned char rgb[3]) {
  // viridis (van der Walt & Smith, matplotlib) at 11 evenly spaced points, interpolated.
  static const unsigned char kStops[11][3] = {{68, 1, 84},    {72, 36, 117},  {65, 68, 135},
                                              {53, 95, 141},  {42, 120, 142}, {33, 145, 140},
                                              {34, 168, 132}, {68, 191, 112}, {122, 209, 81},
                                              {189, 223, 38}, {253, 231, 37}};
  if (!finite(t)) t = 0;
  t = std::clamp(t, 0.0, 1.0) * 10;
  const int k = std::min(static_cast<int>(t), 9);
  const double f = t - k;
  for (int c = 0; c < 3; ++c)
    rgb[c] = static_cast<unsigned char>(std::lround(kStops[k][c] * (1 - f) + kStops[k + 1][c] * f));
}

bool has_data(const LineChart& chart) {
  const bool log = chart.y_scale == AxisScale::kLog;
  for (const auto& s : chart.series)
    for (std::size_t i = 0; i < std::min(s.x.size(), s.y.size()); ++i)
      if (finite(s.x[i]) && finite(s.y[i]) && (!log || s.y[i] > 0)) return true;
  return false;
}

std::string render_line_chart(const LineChart& c) {
  for (const auto& s : c.series) {
    if (s.x.size() != s.y.size())
      throw std::invalid_argument("series '" + s.label + "': x and y differ in length (" +
                                  std::to_string(s.x.size()) + " vs " + std::to_string(s.y.size()) +
                                  ")");
    if ((!s.band_low.empty() || !s.band_high.empty()) &&
        (s.band_low.size() != s.x.size() || s.band_high.size() != s.x.size()))
      throw std::invalid_argument("series '" + s.label +
                                  "': band_low and band_high need one value per point");
  }
  const bool log = c.y_scale == AxisScale::kLog;
  const bool categorical = !c.x_categories.empty();
  const auto usable_y = [&](double y) { return finite(y) && (!log || y > 0); };

  double x_lo = HUGE_VAL, x_hi = -HUGE_VAL, y_lo = HUGE_VAL, y_hi = -HUGE_VAL;
  for (const auto& s : c.series)
    for (std::size_t i = 0; i < s.x.size(); ++i) {
      if (!finite(s.x[i])) continue;
      if (usable_y(s.y[i])) {
        x_lo = std::min(x_lo, s.x[i]), x_hi = std::max(x_hi, s.x[i]);
        y_lo = std::min(y_lo, s.y[i]), y_hi = std::max(y_hi, s.y[i]);
      }
      if (!s.band_low.empty())
        for (double b : {s.band_low[i], s.band_high[i]})
          if (usable_y(b)) y_lo = std::min(y_lo, b), y_hi = std::max(y_hi, b);
    }
  const bool drawn = x_lo <= x_hi;
  for (const auto& r : c.reference_lines)
    if (drawn && usable_y(r.value)) y_lo = std::min(y_lo, r.value), y_hi = std::max(y_hi, r.value);
  if (finite(c.y_min)) y_lo = c.y_min;
  if (finite(c.y_max)) y_hi = c.y_max;

  AxisTicks yt = log ? log_ticks(y_lo, y_hi) : nice_linear_ticks(y_lo, y_hi, 6);
  if (finite(c.y_min) || finite(c.y_max)) {
    if (finite(c.y_min)) yt.lo = c.y_min;
    if (finite(c.y_max)) yt.hi = c.y_max;
    AxisTicks kept;
    kept.lo = yt.lo, kept.hi = yt.hi;
    for (std::size_t i = 0; i < yt.values.size(); ++i)
      if (yt.values[i] >= yt.lo - 1e-12 * std::abs(yt.lo) &&
          yt.values[i] <= yt.hi + 1e-12 * std::abs(yt.hi))
        kept.values.push_back(yt.values[i]), kept.labels.push_back(yt.labels[i]);
    yt = kept;
  }
  AxisTicks xt;
  if (categorical) {
    for (std::size_t i = 0; i < c.x_categories.size(); ++i) {
      xt.values.push_back(static_cast<double>(i));
      xt.labels.push_back(c.x_categories[i]);
    }
    xt.lo = -0.5;
    xt.hi = static_cast<double>(c.x_categories.size()) - 0.5;
  } else {
    xt = nice_linear_ticks(drawn ? x_lo : 0, drawn ? x_hi : 1, 7);
    if (drawn && x_lo < x_hi) {  // no empty margin beyond the data on the x axis
      xt.lo = x_lo, xt.hi = x_hi;
      AxisTicks kept = xt;
      kept.values.clear(), kept.labels.clear();
      for (std::size_t i = 0; i < xt.values.size(); ++i)
        if (xt.values[i] >= x_lo - 1e-9 * (x_hi - x_lo) &&
            xt.values[i] <= x_hi + 1e-9 * (x_hi - x_lo))
          kept.values.push_back(xt.values[i]), kept.labels.push_back(xt.labels[i]);
      xt = kept;
    }
  }

  // Layout: title, legend, plot, x labels.
  double tick_w = 0;
  for (const auto& l : yt.labels) tick_w = std::max(tick_w, text_width(l, kTickSize));
  const double left = (c.y_label.empty() ? 10 : 30) + tick_w + 8;
  // Reference-line labels sit right of the plot, where no data can hide them.
  double right = 20;
  for (const auto& r : c.reference_lines)
    if (!r.label.empty()) right = std::max(right, 10 + text_width(r.label, kTickSize));
  std::vector<LegendEntry> entries;
  for (std::size_t i = 0; i < c.series.size() && c.series.size() > 1;
       ++i) {  // one: the title says it
    const Series& s = c.series[i];
    bool draws = false;  // a series that draws nothing gets no legend entry
    for (std::size_t k = 0; k < s.x.size() && !draws; ++k)
      draws = finite(s.x[k]) && usable_y(s.y[k]);
    if (s.label.empty() || !draws) continue;
    const auto [colour, style] = series_look(s, i);
    entries.push_back({s.label, line_swatch(colour, style, s.line_width, !s.band_low.empty())});
  }
  const double title_h = c.title.empty() ? 8 : 32;
  const auto [legend_svg, legend_h] = legend(entries, left, title_h, c.width - right);
  // Long category names (or many categories) are drawn slanted.
  bool slant = false;
  if (categorical) {
    const double slot = (c.width - left - right) / static_cast<double>(c.x_categories.size());
    for (const auto& l : xt.labels) slant = slant || text_width(l, kTickSize) > slot - 4;
  }
  const double tick_band = slant ? 40 : 20;
  const double bottom = tick_band + (c.x_label.empty() ? 6 : 26);
  Frame f{left, title_h + legend_h + 8, c.width - left - right, 0};
  f.height = std::max(40.0, c.height - f.top - bottom);

  const auto to_y = [&](double v) {
    const double a = log ? std::log10(yt.lo) : yt.lo, b = log ? std::log10(yt.hi) : yt.hi;
    const double t = ((log ? std::log10(v) : v) - a) / (b - a);
    return f.bottom() - t * f.height;
  };
  const auto to_x = [&](double v) { return f.left + (v - xt.lo) / (xt.hi - xt.lo) * f.width; };

  std::string s = svg_open(c.id, c.width, c.height, c.title);
  s += clip_path(c.id, f, 3);
  s += title_text(left, c.title);
  s += legend_svg;

  // Grid and ticks.
  s += "<g class=\"grid\" stroke-width=\"1\" fill=\"none\">\n";
  if (log && std::log10(yt.hi / yt.lo) <= 6.5) {
    for (double d = std::floor(std::log10(yt.lo)); d < std::log10(yt.hi); ++d)
      for (int m = 2; m <= 9; ++m) {
        const double v = m * std::pow(10.0, d);
        if (v > yt.lo && v < yt.hi)
          s += "<line x1=\"" + num(f.left) + "\" x2=\"" + num(f.right()) + "\" y1=\"" +
               num(to_y(v)) + "\" y2=\"" + num(to_y(v)) + "\" stroke=\"" + kMinorGrid + "\"/>\n";
      }
  }
  for (double v : yt.values)
    s += "<line x1=\"" + num(f.left) + "\" x2=\"" + num(f.right()) + "\" y1=\"" + num(to_y(v)) +
         "\" y2=\"" + num(to_y(v)) + "\" stroke=\"" + kGrid + "\"/>\n";
  for (double v : xt.values)
    s += "<line x1=\"" + num(to_x(v)) + "\" x2=\"" + num(to_x(v)) + "\" y1=\"" + num(f.top) +
         "\" y2=\"" + num(f.bottom()) + "\" stroke=\"" + kGrid + "\"/>\n";
  s += "</g>\n";
  s += "<path d=\"M" + num(f.left) + " " + num(f.top) + "V" + num(f.bottom()) + "H" +
       num(f.right()) + "\" stroke=\"" + kAxisInk + "\" fill=\"none\"/>\n";
  s += "<g class=\"ticks\">\n";
  for (std::size_t i = 0; i < yt.values.size(); ++i)
    s += text(left - 6, to_y(yt.values[i]) + 4, yt.labels[i], kTickSize, "end");
  const std::size_t label_every =
      categorical && xt.values.size() > 16 ? (xt.values.size() + 15) / 16 : 1;
  for (std::size_t i = 0; i < xt.values.size(); i += label_every) {
    const double x = to_x(xt.values[i]);
    if (slant)
      s += "<text transform=\"translate(" + num(x + 4) + " " + num(f.bottom() + 12) +
           ") rotate(-35)\" font-size=\"" + num(kTickSize) + "\" text-anchor=\"end\" fill=\"" +
           kAxisInk + "\">" + xml_escape(xt.labels[i]) + "</text>\n";
    else
      s += text(x, f.bottom() + 16, xt.labels[i], kTickSize, "middle");
  }
  s += "</g>\n";
  if (!c.x_label.empty())
    s += text(f.left + f.width / 2, c.height - 8, c.x_label, kLabelSize, "middle", kInk);
  s += y_axis_label(f, c.y_label);

  if (!drawn) {
    s += text(f.left + f.width / 2, f.top + f.height / 2, "no data", kLabelSize, "middle");
    s += "<g class=\"data\"/>\n</svg>\n";
    return s;
  }

  // Reference lines under the data.
  if (!c.reference_lines.empty()) {
    s += "<g class=\"reference\">\n";
    for (const auto& r : c.reference_lines) {
      if (!usable_y(r.value) || r.value < yt.lo || r.value > yt.hi) continue;
      const double y = to_y(r.value);
      s += "<line x1=\"" + num(f.left) + "\" x2=\"" + num(f.right()) + "\" y1=\"" + num(y) +
           "\" y2=\"" + num(y) +
           "\" stroke=\"#777777\" stroke-width=\"1.2\" stroke-dasharray=\"5 4\"/>\n";
      if (!r.label.empty()) s += text(f.right() + 5, y + 4, r.label, kTickSize, "start", "#555555");
    }
    s += "</g>\n";
  }

  s += "<g class=\"data\" clip-path=\"url(#" + xml_escape(c.id) + "-clip)\">\n";
  for (std::size_t si = 0; si < c.series.size(); ++si) {
    const Series& se = c.series[si];
    const auto [colour, style] = series_look(se, si);
    const std::size_t n = se.x.size();
    // Band: one polygon per run of points with both ends usable.
    if (!se.band_low.empty()) {
      std::size_t i = 0;
      while (i < n) {
        const auto ok = [&](std::size_t j) {
          return finite(se.x[j]) && usable_y(se.band_low[j]) && usable_y(se.band_high[j]);
        };
        if (!ok(i)) {
          ++i;
          continue;
        }
        std::size_t j = i;
        while (j < n && ok(j)) ++j;
        if (j - i >= 2) {
          std::string d;
          for (std::size_t m = i; m < j; ++m)
            d += (m == i ? "M" : "L") + num(to_x(se.x[m])) + " " + num(to_y(se.band_high[m]));
          for (std::size_t m = j; m-- > i;)
            d += "L" + num(to_x(se.x[m])) + " " + num(to_y(se.band_low[m]));
          s += "<path d=\"" + d + "Z\" fill=\"" + colour +
               "\" fill-opacity=\"0.16\" stroke=\"none\"/>\n";
        }
        i = j;
      }
    }
    // Runs of drawable points: two or more make a line, a lone one a dot (or it would not show).
    std::string d, dots;
    std::size_t i = 0;
    const auto ok = [&](std::size_t p) { return finite(se.x[p]) && usable_y(se.y[p]); };
    while (i < n) {
      if (!ok(i)) {
        ++i;
        continue;
      }
      std::size_t j = i;
      while (j < n && ok(j)) ++j;
      for (std::size_t k = i; k < j; ++k) {
        if (j - i >= 2) d += (k == i ? "M" : "L") + num(to_x(se.x[k])) + " " + num(to_y(se.y[k]));
        if (se.markers || j - i == 1)
          dots += "<circle cx=\"" + num(to_x(se.x[k])) + "\" cy=\"" + num(to_y(se.y[k])) +
                  "\" r=\"" + (se.markers ? "3.2" : "2.6") + "\"/>";
      }
      i = j;
    }
    if (!d.empty())
      s += "<path d=\"" + d + "\" fill=\"none\" stroke=\"" + colour + "\" stroke-width=\"" +
           num(se.line_width) + "\" stroke-linejoin=\"round\"" + dash_array(style) + "/>\n";
    if (!dots.empty())
      s += "<g fill=\"" + colour + "\" stroke=\"#ffffff\" stroke-width=\"1\">" + dots + "</g>\n";
  }
  s += "</g>\n</svg>\n";
  return s;
}

std::string render_layer_profile(const LayerProfile& p) {
  LineChart c;
  c.id = p.id;
  c.title = p.title;
  c.y_label = p.y_label;
  c.x_label = "layer (input → output)";
  c.y_scale = AxisScale::kLog;
  c.x_categories = p.layers;
  c.width = p.width;
  c.height = p.height;
  for (const auto& [label, values] : p.lines) {
    Series s;
    s.label = label;
    for (std::size_t i = 0; i < values.size() && i < p.layers.size(); ++i) {
      s.x.push_back(static_cast<double>(i));
      s.y.push_back(values[i]);
    }
    s.markers = true;
    c.series.push_back(std::move(s));
  }
  return render_line_chart(c);
}

namespace {

/// Marching squares over cell centres: the segments of the level set {v = level}, as path data.
std::string contour_path(const Heatmap& h, double level, const std::function<double(double)>& px,
                         const std::function<double(double)>& py) {
  const double dx = (h.x_max - h.x_min) / h.columns, dy = (h.y_max - h.y_min) / h.rows;
  const auto at = [&](int i, int j) {
    return h.values[static_cast<std::size_t>(i) * h.columns + j];
  };
  const auto cx = [&](int j) { return h.x_min + (j + 0.5) * dx; };
  const auto cy = [&](int i) { return h.y_min + (i + 0.5) * dy; };
  std::string d;
  for (int i = 0; i + 1 < h.rows; ++i)
    for (int j = 0; j + 1 < h.columns; ++j) {
      const double v00 = at(i, j), v01 = at(i, j + 1), v11 = at(i + 1, j + 1), v10 = at(i + 1, j);
      if (!(finite(v00) && finite(v01) && finite(v11) && finite(v10))) continue;
      const int bits = (v00 > level) | (v01 > level) << 1 | (v11 > level) << 2 | (v10 > level) << 3;
      if (bits == 0 || bits == 15) continue;
      // Crossing points on the four edges: bottom, right, top, left.
      const auto lerp = [&](double a, double b) { return (level - a) / (b - a); };
      const std::pair<double, double> edge[4] = {{cx(j) + lerp(v00, v01) * dx, cy(i)},
                                                 {cx(j + 1), cy(i) + lerp(v01, v11) * dy},
                                                 {cx(j) + lerp(v10, v11) * dx, cy(i + 1)},
                                                 {cx(j), cy(i) + lerp(v00, v10) * dy}};
      const auto seg = [&](int a, int b) {
        d += "M" + num(px(edge[a].first)) + " " + num(py(edge[a].second)) + "L" +
             num(px(edge[b].first)) + " " + num(py(edge[b].second));
      };
      const bool centre_above = (v00 + v01 + v11 + v10) / 4 > level;
      switch (bits) {
        case 1:
        case 14:
          seg(0, 3);
          break;
        case 2:
        case 13:
          seg(0, 1);
          break;
        case 3:
        case 12:
          seg(1, 3);
          break;
        case 4:
        case 11:
          seg(1, 2);
          break;
        case 6:
        case 9:
          seg(0, 2);
          break;
        case 7:
        case 8:
          seg(2, 3);
          break;
        case 5:  // v00 and v11 above: a saddle, resolved by the cell's mean
          if (centre_above)
            seg(0, 1), seg(2, 3);
          else
            seg(0, 3), seg(1, 2);
          break;
        case 10:  // v01 and v10 above
          if (centre_above)
            seg(0, 3), seg(1, 2);
          else
            seg(0, 1), seg(2, 3);
          break;
        default:
          break;
      }
    }
  return d;
}

/// At most `limit` of the points, evenly spaced through the list.
std::vector<std::pair<double, double>> thin(const std::vector<std::pair<double, double>>& points,
                                            std::size_t limit) {
  if (points.size() <= limit || limit == 0) return points;
  std::vector<std::pair<double, double>> out;
  for (std::size_t k = 0; k < limit; ++k) out.push_back(points[k * points.size() / limit]);
  return out;
}

std::string circle_d(double x, double y, double r) {
  return "M" + num(x - r) + " " + num(y) + "a" + num(r) + " " + num(r) + " 0 1 0 " + num(2 * r) +
         " 0a" + num(r) + " " + num(r) + " 0 1 0 " + num(-2 * r) + " 0";
}

std::string triangle_d(double x, double y, double r) {
  return "M" + num(x) + " " + num(y - r) + "l" + num(0.866 * r) + " " + num(1.5 * r) + "h" +
         num(-1.732 * r) + "z";
}

/// The legend of the heatmap's two point sets.
std::vector<LegendEntry> point_legend_entries(const std::string& real_label,
                                              const std::string& fake_label) {
  return {{real_label, "<path d=\"" + circle_d(12, 0, 3.6) +
                           "\" fill=\"#ffffff\" stroke=\"#000000\" stroke-width=\"1\"/>"},
          {fake_label, "<path d=\"" + triangle_d(12, 1, 4.4) +
                           "\" fill=\"#D55E00\" stroke=\"#000000\" stroke-width=\"0.6\"/>"}};
}

/// The width and height attributes of an `<svg>` root written by svg_open; 0 when absent.
std::pair<double, double> root_size(const std::string& svg) {
  const std::size_t end = svg.find('>');
  const std::string root = svg.substr(0, end);
  const auto attribute = [&root](const char* name) {
    const std::string key = std::string(" ") + name + "=\"";
    const std::size_t at = root.find(key);
    return at == std::string::npos ? 0.0 : std::strtod(root.c_str() + at + key.size(), nullptr);
  };
  return {attribute("width"), attribute("height")};
}

}  // namespace

std::string render_heatmap(const Heatmap& h) {
  if (h.columns < 1 || h.rows < 1 ||
      h.values.size() != static_cast<std::size_t>(h.columns) * static_cast<std::size_t>(h.rows))
    throw std::invalid_argument("heatmap needs columns, rows >= 1 and columns*rows values: got " +
                                std::to_string(h.columns) + "x" + std::to_string(h.rows) + " and " +
                                std::to_string(h.values.size()) + " values");
  if (!(h.x_min < h.x_max && h.y_min < h.y_max))
    throw std::invalid_argument("heatmap ranges must satisfy x_min < x_max and y_min < y_max");
  double v_lo = HUGE_VAL, v_hi = -HUGE_VAL;
  for (double v : h.values)
    if (finite(v)) v_lo = std::min(v_lo, v), v_hi = std::max(v_hi, v);
  const bool any = v_lo <= v_hi;
  if (!any) v_lo = 0, v_hi = 1;
  if (v_hi - v_lo <= 1e-12 * std::max(std::abs(v_lo), 1.0)) v_lo -= 0.5, v_hi += 0.5;

  const AxisTicks vt = nice_linear_ticks(v_lo, v_hi, std::max(3, h.contour_levels + 1));
  std::vector<double> levels;
  std::vector<std::string> level_labels;
  for (std::size_t i = 0; i < vt.values.size(); ++i)
    if (vt.values[i] >= v_lo && vt.values[i] <= v_hi)
      levels.push_back(vt.values[i]), level_labels.push_back(vt.labels[i]);

  const AxisTicks xt = nice_linear_ticks(h.x_min, h.x_max, 6);
  const AxisTicks yt = nice_linear_ticks(h.y_min, h.y_max, 6);
  double tick_w = 0;
  for (const auto& l : yt.labels) tick_w = std::max(tick_w, text_width(l, kTickSize));
  double bar_label_w = 0;
  for (const auto& l : level_labels) bar_label_w = std::max(bar_label_w, text_width(l, kTickSize));

  const double left = 30 + tick_w + 8;
  const double title_h = h.title.empty() ? 8 : 32;
  const std::vector<LegendEntry> entries =
      h.legend ? point_legend_entries(h.real_label, h.fake_label) : std::vector<LegendEntry>{};
  const double bar_x = left + h.plot_size + 18, bar_w = 16;
  const double width = bar_x + bar_w + 6 + bar_label_w + 30;
  const auto [legend_svg, legend_h] = legend(entries, left, title_h, width - 10);
  const Frame f{left, title_h + legend_h + 8, h.plot_size, h.plot_size};
  const double height = f.bottom() + 20 + 26;

  const auto px = [&](double x) { return f.left + (x - h.x_min) / (h.x_max - h.x_min) * f.width; };
  const auto py = [&](double y) {
    return f.bottom() - (y - h.y_min) / (h.y_max - h.y_min) * f.height;
  };

  // The field as a PNG, one pixel per cell, top row = the last row (largest y).
  std::vector<unsigned char> rgba(h.values.size() * 4);
  for (int i = 0; i < h.rows; ++i)
    for (int j = 0; j < h.columns; ++j) {
      const double v = h.values[static_cast<std::size_t>(i) * h.columns + j];
      unsigned char* p = &rgba[(static_cast<std::size_t>(h.rows - 1 - i) * h.columns + j) * 4];
      if (!finite(v)) {
        p[0] = p[1] = p[2] = 255, p[3] = 0;
        continue;
      }
      viridis((v - v_lo) / (v_hi - v_lo), p);
      p[3] = 255;
    }
  const std::string png = encode_png_rgba(h.columns, h.rows, rgba);

  std::string s = svg_open(h.id, width, height, h.title);
  s += "<defs><clipPath id=\"" + xml_escape(h.id) + "-clip\"><rect x=\"" + num(f.left) + "\" y=\"" +
       num(f.top) + "\" width=\"" + num(f.width) + "\" height=\"" + num(f.height) +
       "\"/></clipPath><linearGradient id=\"" + xml_escape(h.id) +
       "-bar\" x1=\"0\" y1=\"1\" x2=\"0\" y2=\"0\">";
  for (int k = 0; k <= 10; ++k) {
    unsigned char c[3];
    viridis(k / 10.0, c);
    char colour[8];
    std::snprintf(colour, sizeof colour, "#%02x%02x%02x", c[0], c[1], c[2]);
    s += "<stop offset=\"" + num(k * 10.0) + "%\" stop-color=\"" + colour + "\"/>";
  }
  s += "</linearGradient></defs>\n";
  s += title_text(left, h.title);
  s += legend_svg;

  s += "<g class=\"data\">\n";
  s += "<image x=\"" + num(f.left) + "\" y=\"" + num(f.top) + "\" width=\"" + num(f.width) +
       "\" height=\"" + num(f.height) + "\" preserveAspectRatio=\"none\" href=\"" +
       data_uri("image/png", png) + "\"/>\n";
  if (any && h.contour_levels > 0) {
    s += "<g fill=\"none\" stroke=\"#ffffff\" stroke-opacity=\"0.55\" stroke-width=\"0.9\">\n";
    for (double level : levels) {
      const std::string d = contour_path(h, level, px, py);
      if (!d.empty()) s += "<path d=\"" + d + "\"/>\n";
    }
    s += "</g>\n";
  }
  std::string real_d, fake_d;
  for (const auto& [x, y] : thin(h.real, h.max_points))
    if (finite(x) && finite(y)) real_d += circle_d(px(x), py(y), 2.2);
  for (const auto& [x, y] : thin(h.fake, h.max_points))
    if (finite(x) && finite(y)) fake_d += triangle_d(px(x), py(y), 3.2);
  s += "<g clip-path=\"url(#" + xml_escape(h.id) + "-clip)\">\n";
  // Generated points first: the real ones (tight clusters at the modes) stay visible on top.
  if (!fake_d.empty())
    s += "<path d=\"" + fake_d + "\" fill=\"#D55E00\" stroke=\"#000000\" stroke-width=\"0.5\"/>\n";
  // Real points: every outline, then every fill, so a dense cluster reads as one white blob
  // with a dark rim rather than a knot of black outlines.
  if (!real_d.empty())
    s += "<path d=\"" + real_d +
         "\" fill=\"#000000\" stroke=\"#000000\" stroke-width=\"1.4\"/>\n<path d=\"" + real_d +
         "\" fill=\"#ffffff\" stroke=\"none\"/>\n";
  s += "</g>\n</g>\n";

  // Frame, axes, ticks.
  s += "<rect x=\"" + num(f.left) + "\" y=\"" + num(f.top) + "\" width=\"" + num(f.width) +
       "\" height=\"" + num(f.height) + "\" fill=\"none\" stroke=\"" + kAxisInk + "\"/>\n";
  s += "<g class=\"ticks\">\n";
  for (std::size_t i = 0; i < xt.values.size(); ++i) {
    if (xt.values[i] < h.x_min - 1e-12 || xt.values[i] > h.x_max + 1e-12) continue;
    const double x = px(xt.values[i]);
    s += "<line x1=\"" + num(x) + "\" x2=\"" + num(x) + "\" y1=\"" + num(f.bottom()) + "\" y2=\"" +
         num(f.bottom() + 4) + "\" stroke=\"" + kAxisInk + "\"/>\n";
    s += text(x, f.bottom() + 17, xt.labels[i], kTickSize, "middle");
  }
  for (std::size_t i = 0; i < yt.values.size(); ++i) {
    if (yt.values[i] < h.y_min - 1e-12 || yt.values[i] > h.y_max + 1e-12) continue;
    const double y = py(yt.values[i]);
    s += "<line x1=\"" + num(f.left - 4) + "\" x2=\"" + num(f.left) + "\" y1=\"" + num(y) +
         "\" y2=\"" + num(y) + "\" stroke=\"" + kAxisInk + "\"/>\n";
    s += text(f.left - 7, y + 4, yt.labels[i], kTickSize, "end");
  }
  s += "</g>\n";
  if (!h.x_label.empty())
    s += text(f.left + f.width / 2, height - 8, h.x_label, kLabelSize, "middle", kInk);
  s += y_axis_label(f, h.y_label);

  // Colour bar with the contour levels as ticks.
  s += "<rect x=\"" + num(bar_x) + "\" y=\"" + num(f.top) + "\" width=\"" + num(bar_w) +
       "\" height=\"" + num(f.height) + "\" fill=\"url(#" + xml_escape(h.id) + "-bar)\" stroke=\"" +
       kAxisInk + "\" stroke-width=\"0.8\"/>\n";
  for (std::size_t i = 0; i < levels.size(); ++i) {
    const double y = f.bottom() - (levels[i] - v_lo) / (v_hi - v_lo) * f.height;
    s += "<line x1=\"" + num(bar_x + bar_w) + "\" x2=\"" + num(bar_x + bar_w + 4) + "\" y1=\"" +
         num(y) + "\" y2=\"" + num(y) + "\" stroke=\"" + kAxisInk + "\"/>\n";
    s += text(bar_x + bar_w + 6, y + 4, level_labels[i], kTickSize, "start");
  }
  if (!h.value_label.empty()) {
    const double x = width - 10, cy = f.top + f.height / 2;
    s += "<text transform=\"translate(" + num(x) + " " + num(cy) + ") rotate(-90)\" font-size=\"" +
         num(kLabelSize) + "\" text-anchor=\"middle\" fill=\"" + kInk + "\">" +
         xml_escape(h.value_label) + "</text>\n";
  }
  s += "</svg>\n";
  return s;
}

std::string render_histogram(const Histogram& h) {
  if (h.counts.empty()) throw std::invalid_argument("histogram needs at least one bin");
  if (!(h.max >= h.min) || !finite(h.min) || !finite(h.max))
    throw std::invalid_argument("histogram range must be finite with min <= max: got [" +
                                format_number(h.min) + ", " + format_number(h.max) + "]");
  double lo = h.min, hi = h.max;
  if (hi - lo <= 1e-12 * std::max(std::abs(lo), 1e-30)) {  // all weights equal
    const double pad = lo == 0 ? 0.5 : std::abs(lo) * 0.1;
    lo -= pad, hi += pad;
  }
  double c_max = 0;
  for (double c : h.counts)
    if (finite(c)) c_max = std::max(c_max, c);
  double axis_lo = lo, axis_hi = hi;
  for (const auto& [x, label] : h.markers)
    if (finite(x)) axis_lo = std::min(axis_lo, x), axis_hi = std::max(axis_hi, x);
  AxisTicks xt = nice_linear_ticks(axis_lo, axis_hi, 6);
  const AxisTicks yt = nice_linear_ticks(0, c_max > 0 ? c_max : 1, 4);
  // Keep the x axis tight around the bars and markers (ticks inside only).
  if (axis_hi > axis_lo) {
    const double pad = (axis_hi - axis_lo) * 0.04;
    AxisTicks kept;
    kept.lo = axis_lo - pad, kept.hi = axis_hi + pad;
    for (std::size_t i = 0; i < xt.values.size(); ++i)
      if (xt.values[i] >= kept.lo && xt.values[i] <= kept.hi)
        kept.values.push_back(xt.values[i]), kept.labels.push_back(xt.labels[i]);
    xt = kept;
  }
  double tick_w = 0;
  for (const auto& l : yt.labels) tick_w = std::max(tick_w, text_width(l, kTickSize));
  const double left = tick_w + 16, right = 14;
  const double title_h = h.title.empty() ? 8 : 30;
  const Frame f{left, title_h + 6, h.width - left - right,
                h.height - title_h - 6 - 20 - (h.x_label.empty() ? 6 : 24)};
  const auto px = [&](double x) { return f.left + (x - xt.lo) / (xt.hi - xt.lo) * f.width; };
  const auto py = [&](double c) { return f.bottom() - (c - yt.lo) / (yt.hi - yt.lo) * f.height; };

  std::string s = svg_open(h.id, h.width, h.height, h.title);
  s += title_text(left, h.title, h.width - left - 4);
  s += "<g class=\"grid\" stroke=\"" + std::string(kGrid) + "\">\n";
  for (double v : yt.values)
    s += "<line x1=\"" + num(f.left) + "\" x2=\"" + num(f.right()) + "\" y1=\"" + num(py(v)) +
         "\" y2=\"" + num(py(v)) + "\"/>\n";
  s += "</g>\n";
  std::string d;
  const double w = (hi - lo) / static_cast<double>(h.counts.size());
  for (std::size_t i = 0; i < h.counts.size(); ++i) {
    const double c = finite(h.counts[i]) ? h.counts[i] : 0;
    if (c <= 0) continue;
    const double x0 = px(lo + static_cast<double>(i) * w),
                 x1 = px(lo + static_cast<double>(i + 1) * w);
    d += "M" + num(x0) + " " + num(f.bottom()) + "V" + num(py(c)) + "H" +
         num(std::max(x1, x0 + 0.6)) + "V" + num(f.bottom()) + "Z";
  }
  s += "<g class=\"data\">\n";
  if (!d.empty())
    s += "<path d=\"" + d + "\" fill=\"" + palette_colour(h.colour) +
         "\" fill-opacity=\"0.85\" stroke=\"#ffffff\" stroke-width=\"0.4\"/>\n";
  s += "</g>\n";
  for (const auto& [x, label] : h.markers) {
    if (!finite(x)) continue;
    s += "<line x1=\"" + num(px(x)) + "\" x2=\"" + num(px(x)) + "\" y1=\"" + num(f.top) +
         "\" y2=\"" + num(f.bottom()) + "\" stroke=\"#555555\" stroke-dasharray=\"4 3\"/>\n";
    s += text(px(x) + (x > (xt.lo + xt.hi) / 2 ? -3 : 3), f.top + 12, label, 11,
              x > (xt.lo + xt.hi) / 2 ? "end" : "start", "#555555");
  }
  s += "<path d=\"M" + num(f.left) + " " + num(f.top) + "V" + num(f.bottom()) + "H" +
       num(f.right()) + "\" stroke=\"" + kAxisInk + "\" fill=\"none\"/>\n";
  s += "<g class=\"ticks\">\n";
  for (std::size_t i = 0; i < yt.values.size(); ++i)
    s += text(left - 5, py(yt.values[i]) + 4, yt.labels[i], kTickSize, "end");
  for (std::size_t i = 0; i < xt.values.size(); ++i)
    s += text(px(xt.values[i]), f.bottom() + 16, xt.labels[i], kTickSize, "middle");
  s += "</g>\n";
  if (!h.x_label.empty())
    s += text(f.left + f.width / 2, h.height - 7, h.x_label, kLabelSize, "middle", kInk);
  s += "</svg>\n";
  return s;
}

std::string render_chart_grid(const ChartGrid& g) {
  if (g.columns < 1)
    throw std::invalid_argument("chart grid needs columns >= 1: got " + std::to_string(g.columns));
  const std::size_t cols = static_cast<std::size_t>(g.columns);
  const std::size_t rows = (g.cells.size() + cols - 1) / cols;
  std::vector<std::pair<double, double>> sizes;
  std::vector<double> col_w(cols, 0), row_h(rows, 0);
  for (std::size_t k = 0; k < g.cells.size(); ++k) {
    const auto size = g.cells[k].empty() ? std::pair<double, double>{0, 0} : root_size(g.cells[k]);
    if (!g.cells[k].empty() && !(size.first > 0 && size.second > 0))
      throw std::invalid_argument("chart grid cell " + std::to_string(k) +
                                  " is not an <svg> with a width and a height");
    sizes.push_back(size);
    col_w[k % cols] = std::max(col_w[k % cols], size.first);
    row_h[k / cols] = std::max(row_h[k / cols], size.second);
  }
  // A column or row of blank cells only still takes room, like its neighbours.
  double widest = 0, tallest = 0;
  for (double w : col_w) widest = std::max(widest, w);
  for (double h : row_h) tallest = std::max(tallest, h);
  for (double& w : col_w) w = w > 0 ? w : widest;
  for (double& h : row_h) h = h > 0 ? h : tallest;

  const double gap = 14, margin = 10;
  const bool row_heads = !g.row_titles.empty(), col_heads = !g.column_titles.empty();
  const double left = margin + (row_heads ? 26 : 0);
  double width = left + margin;
  for (double w : col_w) width += w;
  width += gap * static_cast<double>(cols - 1);
  const double title_h = g.title.empty() ? 4 : 32;
  const auto [legend_svg, legend_h] =
      g.point_legend
          ? legend(point_legend_entries(g.real_label, g.fake_label), left, title_h, width - margin)
          : std::pair<std::string, double>{"", 0};
  const double top = title_h + legend_h + (col_heads ? 26 : 4);
  double height = top + margin;
  for (double h : row_h) height += h;
  height += gap * static_cast<double>(rows > 0 ? rows - 1 : 0);

  std::vector<double> col_x(cols), row_y(rows);
  for (std::size_t j = 0; j < cols; ++j)
    col_x[j] = j == 0 ? left : col_x[j - 1] + col_w[j - 1] + gap;
  for (std::size_t i = 0; i < rows; ++i)
    row_y[i] = i == 0 ? top : row_y[i - 1] + row_h[i - 1] + gap;

  std::string s = svg_open(g.id, width, height, g.title);
  if (!g.title.empty())
    s += text(left, 22, g.title, kTitleSize + 2, "start", kInk, "font-weight=\"bold\"");
  s += legend_svg;
  for (std::size_t j = 0; j < cols && j < g.column_titles.size(); ++j)
    s += text(col_x[j] + col_w[j] / 2, top - 8, g.column_titles[j], kTitleSize, "middle", kInk,
              "font-weight=\"bold\"");
  for (std::size_t i = 0; i < rows && i < g.row_titles.size(); ++i)
    s += "<text transform=\"translate(" + num(margin + 12) + " " + num(row_y[i] + row_h[i] / 2) +
         ") rotate(-90)\" font-size=\"" + num(kTitleSize) + "\" font-weight=\"bold\" " +
         "text-anchor=\"middle\" fill=\"" + kInk + "\">" + xml_escape(g.row_titles[i]) +
         "</text>\n";
  for (std::size_t k = 0; k < g.cells.size(); ++k) {
    const std::size_t i = k / cols, j = k % cols;
    if (g.cells[k].empty()) {
      if (!g.empty_text.empty())
        s += text(col_x[j] + col_w[j] / 2, row_y[i] + row_h[i] / 2, g.empty_text, kLabelSize,
                  "middle", kAxisInk);
      continue;
    }
    const auto [w, h] = sizes[k];
    const std::string& cell = g.cells[k];
    // The cell's root becomes a nested viewport at its place, at the left of its column (the
    // plots of a column then line up when their axes' labels are alike).
    s += "<svg x=\"" + num(col_x[j]) + "\" y=\"" + num(row_y[i]) + "\" width=\"" + num(w) +
         "\" height=\"" + num(h) + "\" viewBox=\"0 0 " + num(w) + " " + num(h) + "\">" +
         cell.substr(cell.find('>') + 1);
    if (s.back() != '\n') s += '\n';
  }
  s += "</svg>\n";
  return s;
}

}  // namespace lipschitz::view
