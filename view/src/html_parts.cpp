// Page scaffolding shared by the run page and the comparison pages: document, CSS, sections,
// fact cards, embedded pictures, atomic writes of the page and its chart files.

#include "html_parts.hpp"

#include <view/axis.hpp>
#include <view/encoding.hpp>
#include <view/png_export.hpp>

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace lipschitz::view::detail {

Column column(const std::vector<Record>& records, const std::function<double(const Record&)>& get) {
  Column c;
  for (const Record& r : records) {
    c.x.push_back(static_cast<double>(r.step));
    c.y.push_back(get(r));
  }
  return c;
}
namespace {

namespace fs = std::filesystem;

std::string esc(const std::string& s) { return xml_escape(s); }

constexpr const char* kCss = R"CSS(
:root { --ink: #1f2328; --muted: #5c6570; --line: #d8dde3; --bg: #f6f7f9; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--ink);
  font: 15px/1.45 "DejaVu Sans", Verdana, Helvetica, Arial, sans-serif; }
main { max-width: 1360px; margin: 0 auto; padding: 20px 24px 40px; }
header h1 { font-size: 24px; margin: 0 0 2px; word-break: break-all; }
header .sub { color: var(--muted); margin: 0 0 14px; }
.facts { display: grid; grid-template-columns: repeat(auto-fill, minmax(172px, 1fr)); gap: 10px;
  margin: 0 0 18px; }
.fact { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 8px 12px; }
.fact .k { color: var(--muted); font-size: 12px; text-transform: uppercase; letter-spacing: .04em; }
.fact .v { font-size: 17px; font-weight: bold; }
.fact .d { color: var(--muted); font-size: 12.5px; }
.alerts { border-radius: 8px; padding: 12px 16px; margin: 0 0 22px; border: 1px solid; }
.alerts h2 { margin: 0 0 6px; font-size: 17px; }
.alerts.ok { background: #e9f6f0; border-color: #009E73; }
.alerts.warn { background: #fff5e3; border-color: #E69F00; }
.alerts.crit { background: #fdebe6; border-color: #D55E00; }
.alerts ul { margin: 0; padding: 0; list-style: none; }
.alerts li { padding: 5px 0; border-top: 1px solid rgba(0,0,0,.08); }
.alerts li:first-child { border-top: none; }
.alerts li.ended { color: var(--muted); }
.badge { display: inline-block; min-width: 64px; text-align: center; font-size: 12px; font-weight: bold;
  border-radius: 10px; padding: 1px 8px; margin-right: 6px; color: #fff; }
.badge.warning { background: #b07400; }
.badge.critical { background: #b84a00; }
.badge.ended { background: #8a939c; }
.kind { font-family: "DejaVu Sans Mono", monospace; font-size: 13.5px; }
section { margin: 0 0 26px; }
section > h2 { font-size: 19px; margin: 0 0 4px; padding-bottom: 4px; border-bottom: 2px solid var(--line); }
section > p.note { color: var(--muted); margin: 6px 0 10px; max-width: 1000px; }
.grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(560px, 1fr)); gap: 16px; }
.grid.small { grid-template-columns: repeat(auto-fill, minmax(300px, 1fr)); gap: 12px; }
figure { margin: 0; background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 10px; }
figure svg { display: block; width: 100%; height: auto; }
figcaption { color: var(--muted); font-size: 13px; margin-top: 6px; }
.samples { display: flex; flex-wrap: wrap; gap: 14px; align-items: flex-start; }
figure.latest img { display: block; width: 100%; max-width: 512px; height: auto; margin: 0 auto; }
.samples figure img { display: block; width: 260px; max-width: 100%; height: auto; image-rendering: auto; }
table { border-collapse: collapse; background: #fff; border: 1px solid var(--line); font-size: 13.5px; }
th, td { padding: 5px 10px; border-bottom: 1px solid #eceff2; text-align: right; white-space: nowrap; }
th { background: #f0f2f5; font-weight: bold; }
td.l, th.l { text-align: left; }
details summary { cursor: pointer; color: var(--muted); margin: 4px 0 8px; }
footer { color: var(--muted); font-size: 12.5px; border-top: 1px solid var(--line); padding-top: 10px; }
code { font-family: "DejaVu Sans Mono", monospace; font-size: 13px; }
.scroll { overflow-x: auto; max-width: 100%; }
.runs td.swatch { padding-right: 0; }
.runs code.dir { display: block; color: var(--muted); font-size: 11.5px; }
.runs .dot { display: inline-block; width: 12px; height: 12px; border-radius: 6px; }
)CSS";

}  // namespace

std::string file_safe(std::string s) {
  for (char& c : s)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-')) c = '_';
  return s;
}

std::string duration(double seconds) {
  if (!std::isfinite(seconds)) return "–";
  if (seconds < 120) return format_number(seconds, 3) + " s";
  const long long s = std::llround(seconds);
  char buf[64];
  if (s < 3600)
    std::snprintf(buf, sizeof buf, "%lld min %02lld s", s / 60, s % 60);
  else
    std::snprintf(buf, sizeof buf, "%lld h %02lld min", s / 3600, (s % 3600) / 60);
  return buf;
}

std::string read_bytes(const std::string& path, bool& ok) {
  std::ifstream in(path, std::ios::binary);
  ok = static_cast<bool>(in);
  if (!ok) return {};
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

void write_atomically(const std::string& path, const std::string& content) {
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) throw std::runtime_error(path + ": cannot write: " + std::strerror(errno));
    out.write(content.data(), static_cast<std::streamsize>(content.size()));
    out.flush();
    if (!out) {
      std::remove(tmp.c_str());
      throw std::runtime_error(path + ": write failed: " + std::strerror(errno));
    }
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    const std::string why = std::strerror(errno);
    std::remove(tmp.c_str());
    throw std::runtime_error(path + ": cannot replace: " + why);
  }
}

std::string utc_timestamp() {
  const std::time_t now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm utc{};
  gmtime_r(&now, &utc);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y-%m-%d %H:%M:%S UTC", &utc);
  return stamp;
}

std::vector<std::size_t> evenly_spaced(std::size_t n, std::size_t count) {
  std::vector<std::size_t> out;
  if (n == 0 || count == 0) return out;
  if (n <= count) {
    for (std::size_t i = 0; i < n; ++i) out.push_back(i);
    return out;
  }
  for (std::size_t k = 0; k < count; ++k) {
    const std::size_t i =
        count == 1 ? n - 1 : std::min(n - 1, (k * (n - 1) + (count - 1) / 2) / (count - 1));
    if (out.empty() || out.back() != i) out.push_back(i);
  }
  return out;
}

std::string fact(const std::string& key, const std::string& value, const std::string& detail) {
  return "<div class=\"fact\"><div class=\"k\">" + esc(key) + "</div><div class=\"v\">" +
         esc(value) + "</div>" +
         (detail.empty() ? "" : "<div class=\"d\">" + esc(detail) + "</div>") + "</div>\n";
}

std::string sample_figure(const std::string& path, const std::string& caption, bool latest) {
  bool ok = false;
  const std::string bytes = read_bytes(path, ok);
  if (!ok || bytes.size() < 8 || bytes.compare(0, 8, "\x89PNG\r\n\x1a\n") != 0) return "";
  return std::string("<figure") + (latest ? " class=\"latest\"" : "") + "><img src=\"" +
         data_uri("image/png", bytes) + "\" alt=\"" + esc(caption) + "\"><figcaption>" +
         esc(caption) + "</figcaption></figure>\n";
}

std::string config_value(const RunConfig& c, const std::string& key) {
  for (const auto& [k, v] : c.entries)
    if (k == key) return v;
  return "";
}

std::string objective_text(const RunConfig& c) {
  if (c.objective == "wgan-gp")
    return "WGAN-GP (λ = " + format_number(c.lambda, 3) + (c.one_sided ? ", one-sided" : "") + ")";
  if (c.objective == "wgan") return "WGAN (clip c = " + format_number(c.clip, 3) + ")";
  if (c.objective == "gan") return "GAN";
  return c.objective.empty() ? "–" : c.objective;
}

void PageBuilder::begin_section(const std::string& id, const std::string& title,
                                const std::string& note) {
  section_ = title;
  html_ += "<section id=\"" + esc(id) + "\">\n<h2>" + esc(title) + "</h2>\n";
  if (!note.empty()) html_ += "<p class=\"note\">" + note + "</p>\n";
}

void PageBuilder::figure(const std::string& name, const std::string& title, const std::string& svg,
                         const std::string& caption, bool at_most_natural_size) {
  charts_.push_back({name, title, section_, svg});
  // The root's width attribute, as svg_chart writes it: `<svg … width="640" …>`.
  double width = 0;
  const std::size_t root_end = svg.find('>');
  const std::size_t at = svg.find(" width=\"");
  if (at_most_natural_size && at != std::string::npos && at < root_end)
    width = std::strtod(svg.c_str() + at + 8, nullptr);
  // The figure's padding and border (22 CSS pixels) come on top of the chart.
  html_ += width > 0 ? "<figure style=\"max-width: " + format_number(width + 22, 6) + "px\">\n"
                     : std::string("<figure>\n");
  html_ += svg;
  if (!caption.empty()) html_ += "<figcaption>" + caption + "</figcaption>\n";
  html_ += "</figure>\n";
}

std::string html_document(const std::string& title, const std::string& body) {
  std::string html =
      "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>" +
      esc(title) + "</title>\n<style>" + kCss + "</style>\n</head>\n<body>\n<main>\n";
  html += body;
  html += "</main>\n";
  // Only for tests in a browser: how many charts the browser actually laid out with marks in them.
  // The charts themselves need no script.
  html +=
      "<script>\n(function () {\n  var n = 0;\n"
      "  document.querySelectorAll('svg.chart').forEach(function (svg) {\n"
      "    var g = svg.querySelector('g.data');\n"
      "    if (!g || g.childElementCount === 0) return;\n"
      "    var box = g.getBBox();\n"
      "    if (box.width > 0 && box.height > 0) n++;\n  });\n"
      "  document.body.dataset.charts = String(n);\n})();\n</script>\n</body>\n</html>\n";
  return html;
}

std::vector<std::string> write_chart_files(const std::vector<NamedChart>& charts,
                                           const std::string& dir, const std::string& prefix,
                                           bool png, double png_scale) {
  std::vector<std::string> files;
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw std::runtime_error(dir + ": cannot create: " + ec.message());
  for (const NamedChart& c : charts) {
    const std::string svg_path = (fs::path(dir) / (prefix + c.name + ".svg")).string();
    write_atomically(svg_path, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n" + c.svg);
    files.push_back(svg_path);
    if (png) {
      const std::string png_path = (fs::path(dir) / (prefix + c.name + ".png")).string();
      write_atomically(png_path, svg_to_png(c.svg, png_scale));
      files.push_back(png_path);
    }
  }
  return files;
}

}  // namespace lipschitz::view::detail
