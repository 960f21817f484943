#pragma once
/// \file tight_bound.hpp
/// The hierarchy of whole-network upper bounds, cheap to tight (docs/math.md §8): the product of
/// layer norms (network_bound.hpp), the averaged-activation composition, ECLipsE-Fast and
/// LipSDP-Neuron, the exact planar enumeration, and local bounds over an input domain. Each
/// runs where it applies and fits the time budget; each is reported; the tightest certified
/// one is the network's answer.

#include <lipschitz/affine_chain.hpp>
#include <lipschitz/network_bound.hpp>

#include <optional>
#include <string>
#include <vector>

namespace lipschitz {

/// Which bound to compute (`--bound`).
enum class BoundMethod {
  product,    ///< Π of layer norms × activation constants (network_bound.hpp)
  combettes,  ///< averaged activations with exact composed norms (Combettes & Pesquet 2020)
  eclipse,    ///< closed-form layer-by-layer LipSDP certificate (ECLipsE-Fast spirit)
  sdp,        ///< LipSDP-Neuron solved by CSDP, certified by our own check (Fazlyab et al. 2019)
  regions,    ///< exact by enumerating linear regions: 2-D input, ReLU/LeakyReLU chains
  local,      ///< over the domain: bound propagation and branch and bound (needs a domain)
  best        ///< every method that applies and fits the budget; the tightest wins
};
/// "product", "combettes", "eclipse", "sdp", "regions", "local", "best".
std::string to_string(BoundMethod method);
/// Parses the names above; throws std::invalid_argument listing them otherwise.
BoundMethod bound_method_from_string(const std::string& text);

/// Options of tighten_bound().
struct TightBoundOptions {
  BoundMethod method = BoundMethod::best;
  /// Wall-clock budget for the methods after the product (seconds). A method is skipped when
  /// its cost estimate exceeds what is left; branch and bound and the enumeration stop at it.
  double seconds = 60;
  /// The input domain (flattened input, n_0 coordinates): every bound is then over it, and the
  /// local methods run. Without one, all bounds are global.
  std::optional<Box> domain;
  std::string domain_text;  ///< how the user gave it ("data", "box:-2,2"), for the report
  /// A network is brought into chain form only where each dense stretch has at most this many
  /// entries (the chain methods need dense matrices).
  Index max_chain_entries = Index(1) << 24;
  /// … and no layer is wider than this (the chain methods form products of n × n matrices);
  /// wider networks get the averaged bound on their operators instead (path_bound.hpp).
  Index max_chain_width = 2048;
  /// The SDP is tried only up to this many neurons (its LMI is neurons + inputs square).
  Index sdp_max_neurons = 1200;
  double local_tolerance = 0.01;  ///< branch and bound stops at upper ≤ (1 + this)·lower
  int threads = 0;                ///< for the enumeration; 0: all cores
};

/// One method's result.
struct MethodBound {
  std::string method;      ///< to_string(BoundMethod)
  double upper_bound = 0;  ///< +∞ when it found none
  bool certified = false;  ///< a proven upper bound (a solver's value is proven by our check)
  bool local = false;      ///< over the domain, not the whole input space
  double seconds = 0;
  std::string note;        ///< what it did, or why it was skipped or failed
};

/// Every method's result and the answer.
struct TightBound {
  std::vector<MethodBound> bounds;  ///< in the order they ran, product first
  std::string method;               ///< the tightest certified one ("" if none)
  double upper_bound = 0;           ///< its value (+∞ if none)
  bool certified = false;
  bool local = false;               ///< the answer holds over the domain only
  /// The best lower bound the methods found themselves (a gradient norm at a point: enumerated
  /// regions' interiors, branch-and-bound box centres), 0 if none.
  double lower_bound = 0;
  Eigen::VectorXd witness;          ///< where (flattened input)
  std::string lower_bound_method;
  std::string chain_note;           ///< why the chain methods did not apply, if they did not
  std::string domain_text;          ///< the domain as given ("" without one)
  Eigen::VectorXd domain_lower, domain_upper;  ///< its box
};

/// Runs the methods `options` asks for on `network`, whose per-layer product bound is
/// `product` (bound_network() of the same network). Never below the truth: every value it
/// returns as certified is proven, and a method that cannot prove its value says so.
TightBound tighten_bound(const Network& network, const NetworkBound& product,
                         const TightBoundOptions& options = {});

/// Parses `--domain box:LO,HI` (every coordinate in [LO, HI]) into a box of `dim` coordinates;
/// throws std::invalid_argument with the expected form otherwise.
Box parse_box_domain(const std::string& text, Index dim);

/// The bounding box of samples (rows), enlarged by `margin` of its width on each side (0.1 for
/// `--domain data`); a zero-width coordinate is widened by `margin` absolutely.
Box data_domain(const Eigen::MatrixXd& samples, double margin = 0.1);

}  // namespace lipschitz
