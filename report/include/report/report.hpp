#pragma once
/// \file report.hpp
/// The Lipschitz report of a model, and its four renderings: a readable table, JSON, Markdown
/// and CSV (docs/report.md describes every field).

#include <lipschitz/network.hpp>
#include <lipschitz/network_bound.hpp>
#include <lipschitz/tight_bound.hpp>

#include <string>
#include <vector>

namespace lipschitz::report {

/// Everything `lipschitz report` found.
struct ModelReport {
  std::string model;   ///< the file, as given
  std::string format;  ///< "torchscript", "onnx", "checkpoint"
  Shape input_shape;
  std::string input_shape_source;
  Network network;
  NetworkBound bound;  ///< per layer, and their product
  TightBound tight;    ///< every whole-network method's bound, and the tightest (the answer)
  bool has_lower_bound = false;  ///< a lower bound was found (search, or the methods' witnesses)
  /// The network's lower bound: ≤ the true constant (over the domain when the answer is
  /// local): the best of the empirical search and the methods' witnesses.
  double lower_bound = 0;
  std::string lower_bound_method, lower_bound_where;
  bool has_empirical = false;   ///< the empirical search ran
  double empirical_lower_bound = 0;  ///< its value (over the whole input space)
  int lower_bound_points = 0;
  std::string data;  ///< --data file, or empty
  std::vector<std::string> warnings;
  double import_seconds = 0, bound_seconds = 0, lower_bound_seconds = 0, total_seconds = 0;
};

/// upper / lower, or NaN when either is missing or not finite.
double bound_ratio(const ModelReport& report);
/// Upper and lower bound within 1 % of each other: the constant is known.
bool bound_exact(const ModelReport& report);

std::string format_table(const ModelReport& report);
std::string format_json(const ModelReport& report);
std::string format_markdown(const ModelReport& report);
std::string format_csv(const ModelReport& report);

}  // namespace lipschitz::report
