// Axis ticks and the short number format.

#include <view/axis.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace lipschitz::view {
namespace {

/// Removes trailing zeros after a decimal point, and the point itself if nothing follows.
std::string trim_zeros(std::string s) {
  if (s.find('.') == std::string::npos) return s;
  while (!s.empty() && s.back() == '0') s.pop_back();
  if (!s.empty() && s.back() == '.') s.pop_back();
  return s;
}

std::vector<std::string> label_all(const std::vector<double>& values, double step) {
  // Enough digits that neighbouring ticks differ: the step's own magnitude decides.
  const double span = std::max(std::abs(values.front()), std::abs(values.back()));
  int digits = 2;
  if (step > 0 && span > 0)
    digits = std::clamp(static_cast<int>(std::floor(std::log10(span))) -
                            static_cast<int>(std::floor(std::log10(step))) + 1,
                        1, 15);
  std::vector<std::string> labels;
  for (double v : values)
    labels.push_back(format_number(std::abs(v) < step * 1e-9 ? 0.0 : v, digits));
  return labels;
}

}  // namespace

std::string format_number(double v, int significant) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  significant = std::clamp(significant, 1, 17);
  if (v == 0) return "0";
  char buf[64];
  // Round first, so 99999.7 becomes scientific and 0.00099996 becomes 0.001.
  std::snprintf(buf, sizeof buf, "%.*e", significant - 1, v);
  const double rounded = std::abs(std::strtod(buf, nullptr));
  if (rounded >= 1e-3 && rounded < 1e5) {
    const int exponent = static_cast<int>(std::floor(std::log10(rounded)));
    const int decimals = std::max(0, significant - 1 - exponent);
    std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
    return trim_zeros(buf);
  }
  std::snprintf(buf, sizeof buf, "%.*e", significant - 1, v);
  std::string s = buf;
  const auto e = s.find('e');
  std::string mantissa = trim_zeros(s.substr(0, e));
  std::string exponent = s.substr(e + 1);
  const bool negative = exponent[0] == '-';
  exponent = exponent.substr(1);
  exponent.erase(0, std::min(exponent.find_first_not_of('0'), exponent.size() - 1));
  return mantissa + "e" + (negative ? "-" : "") + exponent;
}

AxisTicks nice_linear_ticks(double lo, double hi, int max_ticks) {
  max_ticks = std::max(max_ticks, 2);
  if (!std::isfinite(lo) || !std::isfinite(hi)) lo = 0, hi = 1;
  if (lo > hi) std::swap(lo, hi);
  if (hi - lo <= std::max(std::abs(lo), std::abs(hi)) * 1e-12) {
    const double pad = lo == 0 ? 1.0 : std::abs(lo) * 0.1;
    lo -= pad;
    hi += pad;
  }
  const double raw = (hi - lo) / (max_ticks - 1);
  const double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
  double step = magnitude * 10;
  for (double m : {1.0, 2.0, 5.0, 10.0}) {
    step = m * magnitude;
    const double first = std::floor(lo / step), last = std::ceil(hi / step);
    if (last - first + 1 <= max_ticks) break;
  }
  AxisTicks t;
  const long long first = static_cast<long long>(std::floor(lo / step + 1e-9));
  const long long last = static_cast<long long>(std::ceil(hi / step - 1e-9));
  t.lo = static_cast<double>(first) * step;
  t.hi = static_cast<double>(last) * step;
  for (long long k = first; k <= last; ++k) t.values.push_back(static_cast<double>(k) * step);
  t.labels = label_all(t.values, step);
  return t;
}

AxisTicks log_ticks(double lo, double hi, int max_ticks) {
  max_ticks = std::max(max_ticks, 2);
  if (!(lo > 0) || !(hi > 0) || !std::isfinite(lo) || !std::isfinite(hi)) lo = 1, hi = 10;
  if (lo > hi) std::swap(lo, hi);
  int d0 = static_cast<int>(std::floor(std::log10(lo) + 1e-9));
  int d1 = static_cast<int>(std::ceil(std::log10(hi) - 1e-9));
  if (d1 <= d0) d1 = d0 + 1;
  // One labelled tick per `stride` decades, at most max_ticks of them; the top widened so the
  // last tick is a labelled one.
  const int stride = std::max(1, (d1 - d0 + max_ticks - 2) / (max_ticks - 1));
  d1 = d0 + (d1 - d0 + stride - 1) / stride * stride;
  AxisTicks t;
  t.lo = std::pow(10.0, d0);
  t.hi = std::pow(10.0, d1);
  const int decades = d1 - d0;
  for (int d = d0; d <= d1; d += stride) {
    t.values.push_back(std::pow(10.0, d));
    if (decades <= 2 && d < d1)
      for (double m : {2.0, 5.0}) t.values.push_back(m * std::pow(10.0, d));
  }
  std::sort(t.values.begin(), t.values.end());
  for (double v : t.values) t.labels.push_back(format_number(v, 1));
  return t;
}

}  // namespace lipschitz::view
