#pragma once
/// \file axis.hpp
/// Axis ticks for the charts and the short number format of their labels and of the alerts.

#include <string>
#include <vector>

namespace lipschitz::view {

/// Ticks of one axis: the values, the range the axis spans, and their labels.
struct AxisTicks {
  std::vector<double> values;       ///< tick positions, increasing, inside [lo, hi]
  std::vector<std::string> labels;  ///< one per value
  double lo = 0;                    ///< the axis range (data range widened to nice values)
  double hi = 1;
};

/// Linear "nice" ticks: steps of 1, 2 or 5 × 10^k, at most `max_ticks` of them (≥ 2), the range
/// widened to the enclosing multiples of the step. A degenerate range [v, v] is widened around v
/// (by 10 % of |v|, or ±1 for v = 0). Non-finite bounds give the range [0, 1].
/// Example: nice_linear_ticks(0.13, 9.2, 6) → 0, 2, 4, 6, 8, 10.
AxisTicks nice_linear_ticks(double lo, double hi, int max_ticks = 6);

/// Logarithmic ticks for 0 < lo ≤ hi: the range widened to whole decades. Labelled ticks at
/// every decade (every 2nd, 3rd, … when there are more than `max_ticks`); spans of at most two
/// decades also get ticks at 2 and 5 × 10^k. Non-positive or non-finite input gives [1, 10].
/// Example: log_ticks(0.003, 40) → 0.001, 0.01, 0.1, 1, 10, 100.
AxisTicks log_ticks(double lo, double hi, int max_ticks = 8);

/// A number in few characters: `significant` digits (1–17), plain notation for
/// 1e-3 ≤ |v| < 1e5 and 0 ("2.7", "0.0884", "3000"), else scientific without '+' or leading
/// zeros ("1e-8", "2.5e6"); trailing zeros dropped. "nan", "inf", "-inf" for non-finite.
std::string format_number(double v, int significant = 3);

}  // namespace lipschitz::view
