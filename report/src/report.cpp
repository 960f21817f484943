#include <report/report.hpp>

#include <lipschitz/json_writer.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <sstream>

namespace lipschitz::report {
namespace {

const double kNaN = std::numeric_limits<double>::quiet_NaN();

std::string fixed(double value, int digits = 6) {
  if (std::isnan(value)) return "";
  if (std::isinf(value)) return "inf";
  char buf[48];
  std::snprintf(buf, sizeof buf, "%.*g", digits, value);
  return buf;
}

// Six significant digits rounded outwards, so that a printed upper bound is never below the
// computed one, nor a printed lower bound above it.
std::string rounded(double value, bool up) {
  if (!std::isfinite(value) || value == 0) return fixed(value);
  const double unit = std::pow(10.0, std::floor(std::log10(std::abs(value))) - 5);
  const double r = (up ? std::ceil(value / unit) : std::floor(value / unit)) * unit;
  return fixed(up ? std::nextafter(r, HUGE_VAL) : std::nextafter(r, -HUGE_VAL));
}
std::string upper(double value) { return rounded(value, true); }
std::string lower(double value) { return rounded(value, false); }

// The layer's own norm as one cell: "1.2345" when exact, "[lo, hi]" otherwise, "" if none.
std::string norm_cell(const LayerBound& b) {
  if (std::isnan(b.spectral_norm)) return "";
  if (b.exact) return fixed(b.spectral_norm);
  return "[" + lower(b.lower_bound) + ", " + upper(b.upper_bound) + "]";
}

std::string headline(const ModelReport& r) {
  std::ostringstream out;
  if (r.tight.certified)
    out << "certified upper bound " << upper(r.tight.upper_bound) << " (" << r.tight.method
        << (r.tight.local ? ", over the domain" : "") << ")";
  else
    out << "no certified upper bound";
  if (r.has_lower_bound)
    out << "; empirical lower bound " << lower(r.lower_bound);
  else
    out << "; no empirical lower bound";
  const double ratio = bound_ratio(r);
  if (!std::isnan(ratio)) out << "; ratio " << fixed(ratio, 4);
  return out.str();
}

std::string csv_field(const std::string& text) {
  if (text.find_first_of(",\"\n") == std::string::npos) return text;
  std::string quoted = "\"";
  for (char c : text) quoted += c == '"' ? std::string("\"\"") : std::string(1, c);
  return quoted + "\"";
}

std::string pad_right(const std::string& text, std::size_t width) {
  // Width in code points, so "σ" and "‖" count once.
  std::size_t shown = 0;
  for (unsigned char c : text) shown += (c & 0xC0) != 0x80;
  return text + std::string(width > shown ? width - shown : 0, ' ');
}

// Rows as aligned columns (widths in code points), two spaces apart, the last column unpadded;
// with `rule`, a line of dashes under the first row.
std::string columns(const std::vector<std::vector<std::string>>& rows, const std::string& indent,
                    bool rule) {
  std::vector<std::size_t> width;
  for (const auto& row : rows)
    for (std::size_t c = 0; c < row.size(); ++c) {
      std::size_t shown = 0;
      for (unsigned char ch : row[c]) shown += (ch & 0xC0) != 0x80;
      if (width.size() <= c) width.resize(c + 1, 0);
      width[c] = std::max(width[c], shown);
    }
  std::ostringstream out;
  for (std::size_t k = 0; k < rows.size(); ++k) {
    out << indent;
    for (std::size_t c = 0; c < rows[k].size(); ++c)
      out << (c + 1 < rows[k].size() ? pad_right(rows[k][c], width[c]) + "  " : rows[k][c] + "\n");
    if (k == 0 && rule) {
      std::size_t total = 0;
      for (std::size_t w : width) total += w + 2;
      out << indent << std::string(total - 2, '-') << "\n";
    }
  }
  return out.str();
}

}  // namespace

double bound_ratio(const ModelReport& r) {
  if (!r.tight.certified || !r.has_lower_bound || !(r.lower_bound > 0)) return kNaN;
  return r.tight.upper_bound / r.lower_bound;
}

bool bound_exact(const ModelReport& r) {
  const double ratio = bound_ratio(r);
  return !std::isnan(ratio) && ratio <= 1.01;
}

std::string format_table(const ModelReport& r) {
  std::ostringstream out;
  out << r.model << " (" << r.format << "), input " << shape_string(r.input_shape) << " ("
      << r.input_shape_source << ")\n\n";
  const std::vector<std::string> head{"layer", "type", "input", "output", "norm (σ₁)",
                                      "reshaped W", "factor", "cumulative"};
  std::vector<std::vector<std::string>> rows{head};
  for (std::size_t i = 1; i < r.network.layers.size(); ++i) {
    const Layer& l = r.network.layers[i];
    const LayerBound& b = r.bound.layers[i];
    rows.push_back({l.name, l.type, shape_string(l.input_shape), shape_string(l.output_shape),
                    norm_cell(b), fixed(b.reshaped_weight_norm),
                    l.kind == LayerKind::add ? "sum" : upper(b.lipschitz_factor),
                    upper(b.cumulative_bound)});
  }
  out << columns(rows, "", true);
  out << "\nnorm: exact value, or [certified lower, certified upper]; reshaped W: what "
         "torch.nn.utils.spectral_norm would report; factor: what the layer contributes to the "
         "network bound.\n";
  for (std::size_t i = 1; i < r.network.layers.size(); ++i)
    if (!r.bound.layers[i].note.empty())
      out << "  " << r.network.layers[i].name << ": " << r.bound.layers[i].note << "\n";
  out << "\nnetwork: " << headline(r) << (bound_exact(r) ? " (exact within 1 %)" : "") << "\n";
  if (!r.tight.domain_text.empty())
    out << "  domain: " << r.tight.domain_text << "\n";
  if (r.tight.bounds.size() > 1 || !r.tight.chain_note.empty()) {
    std::vector<std::vector<std::string>> methods{{"method", "upper bound", "seconds", "certified", "note"}};
    for (const MethodBound& b : r.tight.bounds) {
      char secs[32];
      std::snprintf(secs, sizeof secs, "%.3f", b.seconds);
      methods.push_back({b.method + (b.method == r.tight.method ? " *" : ""), upper(b.upper_bound),
                         secs, b.certified ? (b.local ? "yes (domain)" : "yes") : "no", b.note});
    }
    out << columns(methods, "  ", false);
    if (!r.tight.chain_note.empty()) out << "  (chain methods: " << r.tight.chain_note << ")\n";
  }
  if (!r.bound.certified)
    for (const std::string& reason : r.bound.reasons) out << "  not certified: " << reason << "\n";
  if (r.has_lower_bound)
    out << "  lower bound: " << r.lower_bound_method << " at " << r.lower_bound_where << " ("
        << r.lower_bound_points << " points" << (r.data.empty() ? "" : ", data " + r.data) << ")\n";
  for (const std::string& w : r.warnings) out << "warning: " << w << "\n";
  char time[128];
  std::snprintf(time, sizeof time, "time: %.2f s (import %.2f, bounds %.2f, lower bound %.2f)\n",
                r.total_seconds, r.import_seconds, r.bound_seconds, r.lower_bound_seconds);
  out << time;
  return out.str();
}

std::string format_json(const ModelReport& r) {
  std::ostringstream out;
  JsonWriter json(out);
  json.begin_object();
  json.key("model").value(r.model);
  json.key("format").value(r.format);
  json.key("input_shape").int_array(r.input_shape);
  json.key("input_shape_source").value(r.input_shape_source);
  json.key("output_shape").int_array(r.network.layers[r.network.output].output_shape);
  json.key("layers").begin_array();
  for (std::size_t i = 1; i < r.network.layers.size(); ++i) {
    const Layer& l = r.network.layers[i];
    const LayerBound& b = r.bound.layers[i];
    json.begin_object();
    json.key("index").value(static_cast<long long>(i));
    json.key("name").value(l.name);
    json.key("type").value(l.type);
    json.key("kind").value(to_string(l.kind));
    json.key("inputs").int_array(l.inputs);
    json.key("input_shape").int_array(l.input_shape);
    json.key("output_shape").int_array(l.output_shape);
    json.key("spectral_norm").value(b.spectral_norm);
    json.key("lower_bound").value(b.lower_bound);
    json.key("upper_bound").value(b.upper_bound);
    json.key("exact");
    if (std::isnan(b.spectral_norm)) json.value(kNaN); else json.value(b.exact);
    json.key("reshaped_weight_norm").value(b.reshaped_weight_norm);
    json.key("lipschitz_factor").value(b.lipschitz_factor);
    json.key("cumulative_bound").value(b.cumulative_bound);
    json.key("method").value(b.method);
    json.key("note").value(b.note);
    json.key("seconds").value(b.seconds);
    if (l.kind == LayerKind::conv && !l.linear) {
      const ConvSpec& s = l.spec;
      const int d0 = 2 - s.spatial_dims;
      const auto ext = [&](const Extent& e) { return std::vector<long long>(e.begin() + d0, e.end()); };
      json.key("conv").begin_object();
      json.key("kernel").int_array(ext(s.kernel));
      json.key("stride").int_array(ext(s.stride));
      json.key("padding").int_array(ext(s.padding));
      json.key("dilation").int_array(ext(s.dilation));
      json.key("groups").value(static_cast<long long>(s.groups));
      json.key("transposed").value(s.transposed);
      json.end_object();
    }
    json.end_object();
  }
  json.end_array();
  json.key("network").begin_object();
  json.key("upper_bound").value(r.tight.upper_bound);
  json.key("lower_bound").value(r.has_lower_bound ? r.lower_bound : kNaN);
  json.key("certified").value(r.tight.certified);
  json.key("ratio").value(bound_ratio(r));
  json.key("method").value(r.tight.method);
  json.key("exact").value(bound_exact(r));
  json.key("local").value(r.tight.local);
  json.key("product_bound").value(r.bound.upper_bound);
  json.key("empirical_lower_bound").value(r.has_empirical ? r.empirical_lower_bound : kNaN);
  json.key("bounds").begin_array();
  for (const MethodBound& b : r.tight.bounds) {
    json.begin_object();
    json.key("method").value(b.method);
    json.key("upper_bound").value(b.upper_bound);
    json.key("certified").value(b.certified);
    json.key("local").value(b.local);
    json.key("seconds").value(b.seconds);
    json.key("note").value(b.note);
    json.end_object();
  }
  json.end_array();
  if (!r.tight.domain_text.empty()) {
    json.key("domain").begin_object();
    json.key("text").value(r.tight.domain_text);
    json.key("lower").begin_array();
    for (Eigen::Index i = 0; i < r.tight.domain_lower.size(); ++i) json.value(r.tight.domain_lower(i));
    json.end_array();
    json.key("upper").begin_array();
    for (Eigen::Index i = 0; i < r.tight.domain_upper.size(); ++i) json.value(r.tight.domain_upper(i));
    json.end_array();
    json.end_object();
  }
  json.key("chain_note").value(r.tight.chain_note);
  json.key("reasons").begin_array();
  for (const std::string& reason : r.bound.reasons) json.value(reason);
  json.end_array();
  json.key("lower_bound_method").value(r.lower_bound_method);
  json.key("lower_bound_where").value(r.lower_bound_where);
  json.key("lower_bound_points").value(static_cast<long long>(r.lower_bound_points));
  json.key("data").value(r.data);
  json.end_object();
  json.key("warnings").begin_array();
  for (const std::string& w : r.warnings) json.value(w);
  json.end_array();
  json.key("seconds").begin_object();
  json.key("import").value(r.import_seconds);
  json.key("bounds").value(r.bound_seconds);
  json.key("lower_bound").value(r.lower_bound_seconds);
  json.key("total").value(r.total_seconds);
  json.end_object();
  json.end_object();
  out << "\n";
  return out.str();
}

std::string format_markdown(const ModelReport& r) {
  std::ostringstream out;
  out << "**" << r.model << "** (" << r.format << "), input " << shape_string(r.input_shape)
      << "\n\n";
  out << "| layer | type | input | output | σ₁ | exact | reshaped W | factor | cumulative |\n";
  out << "|---|---|---|---|---|---|---|---|---|\n";
  for (std::size_t i = 1; i < r.network.layers.size(); ++i) {
    const Layer& l = r.network.layers[i];
    const LayerBound& b = r.bound.layers[i];
    out << "| " << l.name << " | " << l.type << " | " << shape_string(l.input_shape) << " | "
        << shape_string(l.output_shape) << " | " << norm_cell(b) << " | "
        << (std::isnan(b.spectral_norm) ? "" : b.exact ? "yes" : "no") << " | "
        << fixed(b.reshaped_weight_norm) << " | "
        << (l.kind == LayerKind::add ? "sum" : upper(b.lipschitz_factor)) << " | "
        << upper(b.cumulative_bound) << " |\n";
  }
  out << "\nNetwork: " << headline(r) << ".\n";
  if (r.tight.bounds.size() > 1) {
    out << "\n| method | upper bound | seconds | certified | note |\n|---|---|---|---|---|\n";
    for (const MethodBound& b : r.tight.bounds) {
      char secs[32];
      std::snprintf(secs, sizeof secs, "%.3f", b.seconds);
      out << "| " << b.method << (b.method == r.tight.method ? " (answer)" : "") << " | "
          << upper(b.upper_bound) << " | " << secs << " | "
          << (b.certified ? (b.local ? "yes (domain)" : "yes") : "no") << " | " << b.note << " |\n";
    }
  }
  for (const std::string& reason : r.bound.reasons) out << "- not certified: " << reason << "\n";
  return out.str();
}

std::string format_csv(const ModelReport& r) {
  std::ostringstream out;
  out << "index,name,type,kind,input_shape,output_shape,spectral_norm,lower_bound,upper_bound,"
         "exact,reshaped_weight_norm,lipschitz_factor,cumulative_bound,method,seconds,note\n";
  for (std::size_t i = 1; i < r.network.layers.size(); ++i) {
    const Layer& l = r.network.layers[i];
    const LayerBound& b = r.bound.layers[i];
    out << i << ',' << csv_field(l.name) << ',' << csv_field(l.type) << ',' << to_string(l.kind)
        << ',' << shape_string(l.input_shape) << ',' << shape_string(l.output_shape) << ','
        << fixed(b.spectral_norm, 17) << ',' << fixed(b.lower_bound, 17) << ','
        << fixed(b.upper_bound, 17) << ','
        << (std::isnan(b.spectral_norm) ? "" : b.exact ? "true" : "false") << ','
        << fixed(b.reshaped_weight_norm, 17) << ',' << fixed(b.lipschitz_factor, 17) << ','
        << fixed(b.cumulative_bound, 17) << ',' << csv_field(b.method) << ','
        << fixed(b.seconds, 4) << ',' << csv_field(b.note) << '\n';
  }
  // The network row: its bounds in the bound columns, "certified"/"not certified" as its
  // method, and every reason in its note.
  std::string reasons;
  for (const std::string& reason : r.bound.reasons) reasons += (reasons.empty() ? "" : "; ") + reason;
  out << ",network,network,network," << shape_string(r.input_shape) << ','
      << shape_string(r.network.layers[r.network.output].output_shape) << ",,"
      << (r.has_lower_bound ? fixed(r.lower_bound, 17) : "") << ','
      << fixed(r.tight.upper_bound, 17) << ",,,,,"
      << (r.tight.certified ? "certified (" + r.tight.method + ")" : std::string("not certified"))
      << ',' << fixed(r.total_seconds, 4)
      << ',' << csv_field(reasons) << '\n';
  return out.str();
}

}  // namespace lipschitz::report
