#pragma once
// The scaffolding that the run page (page.cpp) and the comparison pages (compare.cpp) share:
// the HTML document with its CSS and test script, sections of figures, fact cards, embedded
// sample pictures, and atomic writes of the page and its chart files. Private to view/.

#include <view/page.hpp>
#include <view/run_data.hpp>

#include <cstddef>
#include <functional>
#include <string>
#include <vector>

namespace lipschitz::view::detail {

/// The values of one quantity over the records, with their steps (x: step).
struct Column {
  std::vector<double> x, y;
};
Column column(const std::vector<Record>& records, const std::function<double(const Record&)>& get);

/// A name as part of a file name and element id: [A-Za-z0-9_-], anything else '_'.
std::string file_safe(std::string s);

/// "70.6 s", "2 min 37 s", "1 h 05 min"; "–" when not finite.
std::string duration(double seconds);

/// The file's bytes; `ok` false (and "") when it cannot be read.
std::string read_bytes(const std::string& path, bool& ok);

/// Writes `content` to `path` through a temporary file in the same directory and a rename, so a
/// reader never sees a half-written file. Throws std::runtime_error naming the file.
void write_atomically(const std::string& path, const std::string& content);

/// The current time as "2025-01-31 12:00:00 UTC".
std::string utc_timestamp();

/// `count` indices spread evenly over [0, n), always including the first and the last.
std::vector<std::size_t> evenly_spaced(std::size_t n, std::size_t count);

/// A fact card of the header: a small key, a bold value, a muted detail line (all text).
std::string fact(const std::string& key, const std::string& value, const std::string& detail = "");

/// A `<figure>` with the PNG at `path` embedded as a data URI and `caption`; "" when the file
/// cannot be read or is not a PNG. `latest` uses the large layout.
std::string sample_figure(const std::string& path, const std::string& caption, bool latest);

/// The value of `key` in config.json as text, "" when absent.
std::string config_value(const RunConfig& c, const std::string& key);

/// "WGAN-GP (λ = 0.1)", "WGAN (clip c = 0.01)", "GAN".
std::string objective_text(const RunConfig& c);

/// Collects a page's sections and its charts, in page order.
class PageBuilder {
 public:
  explicit PageBuilder(std::vector<NamedChart>& charts) : charts_(charts) {}

  /// Opens a `<section>` with a heading and an optional note (HTML).
  void begin_section(const std::string& id, const std::string& title, const std::string& note = "");
  void end_section() { html_ += "</section>\n"; }
  /// Appends HTML as it is.
  void raw(const std::string& h) { html_ += h; }
  /// A chart in a figure with a caption (HTML). The figure fills its column; with
  /// `at_most_natural_size` it is no wider than the chart's own width (in CSS pixels), so a
  /// figure of one or two panels is not blown up to the page's width.
  void figure(const std::string& name, const std::string& title, const std::string& svg,
              const std::string& caption, bool at_most_natural_size = false);
  const std::string& html() const { return html_; }

 private:
  std::vector<NamedChart>& charts_;
  std::string html_;
  std::string section_;
};

/// The complete HTML document: `<head>` with `title` and the CSS, then `body` (header, sections,
/// footer) in `<main>`, then the script that sets `document.body.dataset.charts` to the number of
/// charts the browser laid out with marks in them (for the browser tests; the charts need no
/// script).
std::string html_document(const std::string& title, const std::string& body);

/// Writes each chart as DIR/PREFIX + NAME.svg (with an XML declaration) and, with `png`, as
/// .png at `png_scale`, creating DIR. Returns the files written. Throws std::runtime_error
/// naming the file or directory, PngError when librsvg fails.
std::vector<std::string> write_chart_files(const std::vector<NamedChart>& charts,
                                           const std::string& dir, const std::string& prefix,
                                           bool png, double png_scale);

}  // namespace lipschitz::view::detail
