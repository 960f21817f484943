// Tests svg_chart.hpp (and png_export.hpp through it): well-formed SVG with finite geometry,
// gaps for missing values, log-axis ticks, the heatmap's embedded image, histograms, PNG export.
#include <doctest/doctest.h>
#include <view/png_export.hpp>
#include <view/svg_chart.hpp>

#include "xml_check.hpp"

#include <cmath>
#include <limits>
#include <string>

using namespace lipschitz::view;
using namespace lipschitz::view::testing;

namespace {
const double kNaN = std::numeric_limits<double>::quiet_NaN();
const double kInf = std::numeric_limits<double>::infinity();

Series series(const std::string& label, std::vector<double> x, std::vector<double> y) {
  Series s;
  s.label = label;
  s.x = std::move(x);
  s.y = std::move(y);
  return s;
}

void check_well_formed(const std::string& svg) {
  const XmlCheck c = check_markup(svg);
  INFO(c.problem);
  CHECK(c.ok);
  CHECK(svg.rfind("<svg xmlns=\"http://www.w3.org/2000/svg\"", 0) == 0);
  CHECK(svg.find("viewBox=\"0 0 ") != std::string::npos);
}

/// The `<g class="data">` element's content.
std::string data_group(const std::string& svg) {
  const std::size_t b = svg.find("<g class=\"data\"");
  if (b == std::string::npos) return "";
  const std::size_t open_end = svg.find('>', b);
  if (svg[open_end - 1] == '/') return "";
  // The data group nests at most one level of <g>.
  std::size_t depth = 1, i = open_end + 1;
  while (depth > 0) {
    const std::size_t next_open = svg.find("<g", i), next_close = svg.find("</g>", i);
    if (next_open != std::string::npos && next_open < next_close) {
      const std::size_t e = svg.find('>', next_open);
      if (svg[e - 1] != '/') ++depth;
      i = e + 1;
    } else {
      --depth;
      i = next_close + 4;
    }
  }
  return svg.substr(open_end + 1, i - open_end - 1 - 4);
}

LineChart two_series() {
  LineChart c;
  c.id = "test";
  c.title = "Wasserstein estimate <train> & \"held-out\"";
  c.x_label = "step";
  c.y_label = "W";
  c.series.push_back(series("train", {0, 100, 200, 300}, {0.1, 0.9, 0.6, 0.4}));
  c.series.push_back(series("held-out", {0, 100, 200, 300}, {0.12, 0.85, 0.62, 0.41}));
  return c;
}
}  // namespace

TEST_CASE("a line chart is well-formed SVG with escaped text and a legend") {
  const std::string svg = render_line_chart(two_series());
  check_well_formed(svg);
  CHECK(svg.find("Wasserstein estimate &lt;train&gt; &amp; &quot;held-out&quot;") !=
        std::string::npos);
  CHECK(svg.find(">train</text>") != std::string::npos);
  CHECK(svg.find(">held-out</text>") != std::string::npos);
  CHECK(svg.find("class=\"chart\" id=\"test\"") != std::string::npos);
  CHECK(svg.find("clip-path=\"url(#test-clip)\"") != std::string::npos);
  CHECK(count_of(data_group(svg), "<path") == 2);
  CHECK(svg.find(palette_colour(0)) != std::string::npos);
  CHECK(svg.find(palette_colour(1)) != std::string::npos);
  CHECK(svg.find("http://") == svg.find("http://www.w3.org/2000/svg"));  // nothing external

  LineChart c = two_series();
  c.series.push_back(series("never finite", {0, 100}, {kNaN, kNaN}));
  CHECK(render_line_chart(c).find(">never finite</text>") ==
        std::string::npos);  // not in the legend
}

TEST_CASE("missing and non-finite values are gaps") {
  LineChart c;
  c.id = "gaps";
  c.series.push_back(series("s", {0, 1, 2, 3, 4, 5, 6}, {1, 2, kNaN, 3, 4, kInf, 5}));
  const std::string data = data_group(render_line_chart(c));
  // Three runs: [0, 1], [3, 4], and the isolated point 6, which gets a dot.
  CHECK(count_of(data, "M") == 2);
  CHECK(count_of(data, "<circle") == 1);
  check_well_formed(render_line_chart(c));

  SUBCASE("on a log axis, values <= 0 are gaps too") {
    c.y_scale = AxisScale::kLog;
    c.series[0].y = {1, 0, 2, -1, 3, 4, 5};
    const std::string svg = render_line_chart(c);
    check_well_formed(svg);
    // Runs: [0], [2], [4, 5, 6]: two isolated points (dots) and one line.
    const std::string d = data_group(svg);
    CHECK(count_of(d, "<circle") == 2);
    CHECK(count_of(d, "M") == 1);
  }
}

TEST_CASE("log axes: decade ticks and labels") {
  LineChart c;
  c.id = "log";
  c.y_scale = AxisScale::kLog;
  c.series.push_back(series("sigma", {0, 1, 2, 3}, {0.004, 0.2, 3.0, 70.0}));
  const std::string svg = render_line_chart(c);
  check_well_formed(svg);
  for (const char* label :
       {">0.001</text>", ">0.01</text>", ">0.1</text>", ">1</text>", ">10</text>", ">100</text>"})
    CHECK_MESSAGE(svg.find(label) != std::string::npos, label);
  CHECK(svg.find(">1000</text>") == std::string::npos);
}

TEST_CASE("bands, reference lines, forced ranges and categories") {
  LineChart c = two_series();
  c.series[0].band_low = {0, 0.8, 0.5, 0.3};
  c.series[0].band_high = {0.2, 1.0, 0.7, 0.5};
  c.reference_lines.push_back({1.0, "target 1"});
  c.y_min = 0;
  c.y_max = 2;
  std::string svg = render_line_chart(c);
  check_well_formed(svg);
  CHECK(svg.find("fill-opacity=\"0.16\"") != std::string::npos);
  CHECK(svg.find(">target 1</text>") != std::string::npos);
  CHECK(svg.find(">2</text>") != std::string::npos);

  LayerProfile p;
  p.id = "profile";
  p.layers = {"fc1", "fc2", "fc3", "fc4"};
  p.lines.push_back({"step 0", {0.008, 0.02, 0.047, 0.088}});
  p.lines.push_back({"step 300", {0.6, 0.4, 0.1, 0.088}});
  svg = render_layer_profile(p);
  check_well_formed(svg);
  CHECK(svg.find(">fc3</text>") != std::string::npos);
  CHECK(count_of(data_group(svg), "<circle") == 8);  // markers on every point
}

TEST_CASE("many categories and many series stay well-formed") {
  LayerProfile p;
  p.id = "deep";
  for (int i = 1; i <= 13; ++i) p.layers.push_back("layer_number_" + std::to_string(i));
  for (int k = 0; k < 10; ++k) {
    std::vector<double> v;
    for (int i = 0; i < 13; ++i) v.push_back(std::pow(10.0, -i * 0.5 + k * 0.1));
    p.lines.push_back({"step " + std::to_string(k * 1000), v});
  }
  const std::string svg = render_layer_profile(p);
  check_well_formed(svg);
  CHECK(svg.find("rotate(-35)") != std::string::npos);               // long names slanted
  CHECK(svg.find("stroke-dasharray=\"7 4\"") != std::string::npos);  // series 9 and 10: dashed
}

TEST_CASE("no data: a note, an empty data group") {
  LineChart c;
  c.id = "empty";
  c.series.push_back(series("nothing", {0, 1}, {kNaN, kNaN}));
  CHECK_FALSE(has_data(c));
  const std::string svg = render_line_chart(c);
  check_well_formed(svg);
  CHECK(svg.find(">no data</text>") != std::string::npos);
  CHECK(svg.find("<g class=\"data\"/>") != std::string::npos);
  c.series[0].y = {kNaN, 1};
  CHECK(has_data(c));
}

TEST_CASE("line chart errors") {
  LineChart c;
  c.series.push_back(series("bad", {0, 1, 2}, {1, 2}));
  CHECK_THROWS_WITH_AS(render_line_chart(c), "series 'bad': x and y differ in length (3 vs 2)",
                       std::invalid_argument);
  c.series[0].y = {1, 2, 3};
  c.series[0].band_low = {0};
  CHECK_THROWS_WITH_AS(render_line_chart(c),
                       "series 'bad': band_low and band_high need one value per point",
                       std::invalid_argument);
}

TEST_CASE("heatmap: an embedded PNG, contours, both point sets, a colour bar") {
  Heatmap h;
  h.id = "surface";
  h.title = "Critic";
  h.columns = h.rows = 12;
  h.x_min = h.y_min = -2;
  h.x_max = h.y_max = 2;
  for (int i = 0; i < 12; ++i)
    for (int j = 0; j < 12; ++j) h.values.push_back(std::hypot(j - 5.5, i - 5.5));
  h.values[0] = kNaN;  // a blank cell
  h.real = {{0, 0}, {1, 1}};
  h.fake = {{-1, 0.5}, {kNaN, 0}, {0.2, -0.3}};
  const std::string svg = render_heatmap(h);
  check_well_formed(svg);
  CHECK(svg.find("href=\"data:image/png;base64,iVBORw0KGgo") != std::string::npos);  // PNG magic
  CHECK(svg.find("url(#surface-bar)") != std::string::npos);
  CHECK(svg.find("stroke-opacity=\"0.55\"") != std::string::npos);  // contour group
  CHECK(svg.find(">real data</text>") != std::string::npos);
  CHECK(svg.find(">generated</text>") != std::string::npos);
  // Paths of one sub-path per finite point: real points twice (outlines, fills), generated once.
  CHECK(count_of(svg, "a2.2 2.2 0 1 0 4.4 0") == 4);  // outlines, then fills
  CHECK(count_of(svg, "fill=\"#D55E00\" stroke=\"#000000\" stroke-width=\"0.5\"") == 1);

  SUBCASE("errors") {
    h.values.pop_back();
    CHECK_THROWS_WITH_AS(
        render_heatmap(h),
        "heatmap needs columns, rows >= 1 and columns*rows values: got 12x12 and 143 values",
        std::invalid_argument);
    h.values.push_back(1);
    h.x_max = -3;
    CHECK_THROWS_WITH_AS(render_heatmap(h),
                         "heatmap ranges must satisfy x_min < x_max and y_min < y_max",
                         std::invalid_argument);
  }
  SUBCASE("a constant field still draws") {
    std::fill(h.values.begin(), h.values.end(), 0.5);
    check_well_formed(render_heatmap(h));
  }
}

TEST_CASE("histogram bars and markers") {
  Histogram h;
  h.id = "hist_fc1";
  h.title = "fc1 weights";
  h.min = -0.01;
  h.max = 0.01;
  h.counts.assign(40, 3);
  h.counts[0] = 500;
  h.counts[39] = 480;
  h.counts[5] = kNaN;
  h.markers = {{-0.01, "−c"}, {0.01, "+c"}};
  const std::string svg = render_histogram(h);
  check_well_formed(svg);
  CHECK(count_of(data_group(svg), "Z") == 39);  // the NaN bin is empty
  CHECK(svg.find(">+c</text>") != std::string::npos);

  SUBCASE("all weights equal") {
    h.min = h.max = 0;
    check_well_formed(render_histogram(h));
  }
  SUBCASE("errors") {
    h.counts.clear();
    CHECK_THROWS_WITH_AS(render_histogram(h), "histogram needs at least one bin",
                         std::invalid_argument);
    h.counts = {1};
    h.min = 1;
    h.max = 0;
    CHECK_THROWS_WITH_AS(render_histogram(h),
                         "histogram range must be finite with min <= max: got [1, 0]",
                         std::invalid_argument);
  }
}

TEST_CASE("chart grid: cells nested in place, headings, one point legend, blank cells") {
  Heatmap h;
  h.columns = h.rows = 4;
  h.values.assign(16, 0.0);
  for (int k = 0; k < 16; ++k) h.values[static_cast<std::size_t>(k)] = k;
  h.legend = false;
  h.plot_size = 200;
  h.id = "a";
  const std::string a = render_heatmap(h);
  CHECK(a.find(">real data</text>") == std::string::npos);  // no legend of its own
  h.id = "b";
  const std::string b = render_heatmap(h);
  Histogram hist;
  hist.id = "c";
  hist.title = "a histogram title far too long for a chart only three hundred and twenty wide";
  hist.counts = {1, 2, 3};
  const std::string c = render_histogram(hist);
  CHECK(c.find("font-size=\"15\" text-anchor=\"start\" fill=\"#222222\" "
               "font-weight=\"bold\">a histogram") == std::string::npos);   // shrunk to fit …
  CHECK(c.find("…</text>") != std::string::npos);                           // … and cut short
  CHECK(c.find("<title>" + hist.title + "</title>") != std::string::npos);  // whole in <title>
  hist.title = "fc1 weights";
  CHECK(render_histogram(hist).find("font-size=\"15\" text-anchor=\"start\" fill=\"#222222\" "
                                    "font-weight=\"bold\">fc1 weights</text>") !=
        std::string::npos);
  hist.title = "weights of the critic’s layers, pooled, clipping c = 0.001";  // UTF-8 kept whole
  const std::string cut = render_histogram(hist);
  CHECK(check_markup(cut).ok);

  ChartGrid g;
  g.id = "grid";
  g.title = "Figure <1a>";
  g.columns = 2;
  g.cells = {a, "", b, c};
  g.row_titles = {"clipping", "penalty"};
  g.column_titles = {"8 Gaussians", "Swiss roll"};
  g.point_legend = true;
  g.empty_text = "no run";
  const std::string svg = render_chart_grid(g);
  check_well_formed(svg);
  CHECK(svg.find(">Figure &lt;1a&gt;</text>") != std::string::npos);
  CHECK(count_of(svg, ">real data</text>") == 1);
  CHECK(svg.find(">no run</text>") != std::string::npos);
  for (const char* t : {">clipping</text>", ">penalty</text>", ">8 Gaussians</text>"})
    CHECK_MESSAGE(svg.find(t) != std::string::npos, t);
  // One root with class="chart"; the cells' roots became nested viewports.
  CHECK(count_of(svg, "class=\"chart\"") == 1);
  CHECK(count_of(svg, "<svg ") == 4);
  CHECK(count_of(svg, "</svg>") == 4);
  CHECK(svg.find("url(#a-bar)") != std::string::npos);
  CHECK(svg.find("url(#b-bar)") != std::string::npos);
  // A grid nests in a grid.
  ChartGrid outer;
  outer.id = "outer";
  outer.columns = 2;
  outer.cells = {svg, c};
  check_well_formed(render_chart_grid(outer));

  g.columns = 0;
  CHECK_THROWS_WITH_AS(render_chart_grid(g), "chart grid needs columns >= 1: got 0",
                       std::invalid_argument);
  g.columns = 1;
  g.cells = {"<g/>"};
  CHECK_THROWS_WITH_AS(render_chart_grid(g),
                       "chart grid cell 0 is not an <svg> with a width and a height",
                       std::invalid_argument);
}

TEST_CASE("PNG export through librsvg") {
  const std::string png = svg_to_png(render_line_chart(two_series()), 2.0);
  REQUIRE(png.size() > 1000);
  CHECK(png.compare(0, 8, "\x89PNG\r\n\x1a\n") == 0);
  // IHDR: width and height, big-endian, at bytes 16–23: twice the 640×360 viewBox.
  const auto be32 = [&](std::size_t o) {
    return (static_cast<unsigned char>(png[o]) << 24) |
           (static_cast<unsigned char>(png[o + 1]) << 16) |
           (static_cast<unsigned char>(png[o + 2]) << 8) | static_cast<unsigned char>(png[o + 3]);
  };
  CHECK(be32(16) == 1280);
  CHECK(be32(20) == 720);

  Heatmap h;
  h.columns = h.rows = 4;
  h.values.assign(16, 1.0);
  for (int i = 0; i < 16; ++i) h.values[static_cast<std::size_t>(i)] = i;
  CHECK(svg_to_png(render_heatmap(h), 1.0).compare(0, 8, "\x89PNG\r\n\x1a\n") == 0);

  CHECK_THROWS_AS(svg_to_png("<svg", 1.0), PngError);
  CHECK_THROWS_WITH_AS(svg_to_png(render_line_chart(two_series()), 0),
                       "PNG scale must be in (0, 16]: got 0.000000", std::invalid_argument);
  CHECK_THROWS_AS(encode_png_rgba(2, 2, {1, 2, 3}), std::invalid_argument);
}

TEST_CASE("viridis runs from dark purple to yellow; the palette repeats after eight") {
  unsigned char lo[3], hi[3], mid[3];
  viridis(0, lo);
  viridis(1, hi);
  viridis(0.5, mid);
  CHECK(lo[0] == 68);
  CHECK(lo[2] == 84);
  CHECK(hi[0] == 253);
  CHECK(hi[1] == 231);
  CHECK(mid[1] > mid[0]);
  CHECK(palette_colour(0) == "#0072B2");
  CHECK(palette_colour(8) == palette_colour(0));
  CHECK(palette_colour(-1) == palette_colour(7));
}
