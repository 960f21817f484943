#include <lipschitz/tight_bound.hpp>

#include <lipschitz/averaged_bound.hpp>
#include <lipschitz/local_bound.hpp>
#include <lipschitz/path_bound.hpp>
#include <lipschitz/planar_regions.hpp>
#include <lipschitz/sdp_bound.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <sstream>
#include <stdexcept>

namespace lipschitz {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

std::string number(double value) {
  std::ostringstream out;
  out.precision(6);
  out << value;
  return out.str();
}

bool wants(BoundMethod asked, BoundMethod method) {
  return asked == BoundMethod::best || asked == method;
}

}  // namespace

std::string to_string(BoundMethod method) {
  switch (method) {
    case BoundMethod::product: return "product";
    case BoundMethod::combettes: return "combettes";
    case BoundMethod::eclipse: return "eclipse";
    case BoundMethod::sdp: return "sdp";
    case BoundMethod::regions: return "regions";
    case BoundMethod::local: return "local";
    case BoundMethod::best: return "best";
  }
  return "?";
}

BoundMethod bound_method_from_string(const std::string& text) {
  for (BoundMethod m : {BoundMethod::product, BoundMethod::combettes, BoundMethod::eclipse,
                        BoundMethod::sdp, BoundMethod::regions, BoundMethod::local, BoundMethod::best})
    if (to_string(m) == text) return m;
  throw std::invalid_argument("bound method must be one of product, combettes, eclipse, sdp, "
                              "regions, local, best: got '" + text + "'");
}

Box parse_box_domain(const std::string& text, Index dim) {
  const std::string form = "expected box:LO,HI with LO < HI (every input coordinate in [LO, HI])";
  if (text.rfind("box:", 0) != 0) throw std::invalid_argument("domain '" + text + "': " + form);
  const std::string body = text.substr(4);
  const std::size_t comma = body.find(',');
  double lo = 0, hi = 0;
  try {
    std::size_t used = 0;
    if (comma == std::string::npos) throw std::invalid_argument("");
    lo = std::stod(body.substr(0, comma), &used);
    if (used != comma) throw std::invalid_argument("");
    hi = std::stod(body.substr(comma + 1), &used);
    if (used != body.size() - comma - 1) throw std::invalid_argument("");
  } catch (const std::exception&) {
    throw std::invalid_argument("domain '" + text + "': " + form);
  }
  if (!(std::isfinite(lo) && std::isfinite(hi) && lo < hi))
    throw std::invalid_argument("domain '" + text + "': " + form);
  return Box{Eigen::VectorXd::Constant(dim, lo), Eigen::VectorXd::Constant(dim, hi)};
}

Box data_domain(const Eigen::MatrixXd& samples, double margin) {
  if (samples.rows() == 0) throw std::invalid_argument("domain data: no samples");
  Box box{samples.colwise().minCoeff().transpose(), samples.colwise().maxCoeff().transpose()};
  const Eigen::VectorXd width = box.upper - box.lower;
  for (Eigen::Index i = 0; i < width.size(); ++i) {
    const double grow = width(i) > 0 ? margin * width(i) : margin;
    box.lower(i) -= grow;
    box.upper(i) += grow;
  }
  return box;
}

TightBound tighten_bound(const Network& network, const NetworkBound& product,
                         const TightBoundOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  const auto left = [&] { return options.seconds - seconds_since(start); };
  TightBound r;
  const bool local = options.domain.has_value();
  if (local) {
    r.domain_text = options.domain_text.empty() ? "box" : options.domain_text;
    r.domain_lower = options.domain->lower;
    r.domain_upper = options.domain->upper;
  }
  r.bounds.push_back({"product", product.upper_bound, product.certified, false, product.seconds,
                      product.certified ? "product of the layers' certified norms"
                                        : "not certified"});
  const BoundMethod asked = options.method;
  if (asked == BoundMethod::local && !local)
    throw std::invalid_argument("--bound local needs a domain (--domain data or --domain box:LO,HI)");

  const auto add = [&](MethodBound b) { r.bounds.push_back(std::move(b)); };
  const auto skipped = [&](BoundMethod m, const std::string& why) {
    if (asked == m) add({to_string(m), kInf, false, local, 0, why});
  };

  if (asked != BoundMethod::product) {
    // Every chain method needs the network as dense affine maps between activations.
    ChainConversion conversion =
        product.certified
            ? to_affine_chain(network, std::min(options.max_chain_entries,
                                                options.max_chain_width * options.max_chain_width))
            : ChainConversion{};
    for (const Eigen::MatrixXd& w : conversion.chain.weights)
      if (conversion.ok && std::max(w.rows(), w.cols()) > options.max_chain_width) {
        conversion.ok = false;
        conversion.reason = "a layer of " + std::to_string(std::max(w.rows(), w.cols())) +
                            " units, above the dense methods' width limit of " +
                            std::to_string(options.max_chain_width);
      }
    if (!product.certified) r.chain_note = "no bound exists through some layer (see reasons)";
    else if (!conversion.ok) r.chain_note = conversion.reason;
    if (!conversion.ok) {
      // Too large for dense maps, but maybe a path: the averaged bound on the layers' own
      // operators (conv critics).
      bool path = false;
      if (product.certified && wants(asked, BoundMethod::combettes)) {
        PathBoundOptions po;
        po.threads = options.threads;
        const PathBound p = averaged_path_bound(network, product, po);
        if (p.ok) {
          path = true;
          add({"combettes", p.upper_bound, std::isfinite(p.upper_bound), false, p.seconds,
               "averaged activations on the layers' operators: " + std::to_string(p.exact_norms) +
                   " composed norms certified dense, " + std::to_string(p.split_norms) +
                   " split into products"});
        }
      }
      for (BoundMethod m : {BoundMethod::combettes, BoundMethod::eclipse, BoundMethod::sdp,
                            BoundMethod::regions, BoundMethod::local})
        if (!(path && m == BoundMethod::combettes))
          skipped(m, "needs a chain of dense affine maps and activations: " + r.chain_note);
    } else {
      const AffineChain& chain = conversion.chain;
      if (local && options.domain->lower.size() != chain.input_dim())
        throw std::invalid_argument("domain has " + std::to_string(options.domain->lower.size()) +
                                    " coordinates, the network's input " +
                                    std::to_string(chain.input_dim()));
      // On a domain, bound propagation narrows every neuron's slopes (Shi et al. 2022): the
      // same bounds, with stable neurons fixed, then hold over the domain.
      const NeuronSlopes slopes =
          local ? local_slopes(chain, propagate_intervals(chain, *options.domain)) : global_slopes(chain);
      const std::string over = local ? " over the domain (slopes from bound propagation)" : "";
      bool pieces = true, exact_already = false;
      Index neurons = 0;
      for (std::size_t k = 0; k < chain.activations.size(); ++k) {
        pieces = pieces && piecewise_linear(chain.activations[k]);
        neurons += chain.weights[k].rows();
      }

      if (wants(asked, BoundMethod::combettes)) {
        const auto t = std::chrono::steady_clock::now();
        const double value = averaged_activation_bound(chain, slopes);
        add({"combettes", value, std::isfinite(value), local, seconds_since(t),
             "averaged activations, " + std::to_string(chain.depth()) + " composed maps" + over});
      }
      if (wants(asked, BoundMethod::eclipse)) {
        if (chain.depth() < 2) {
          skipped(BoundMethod::eclipse, "a single affine map: its norm is exact already");
        } else {
          const SdpBound e = eclipse_fast(chain, slopes);
          add({"eclipse", e.certified ? e.upper_bound : kInf, e.certified, local, e.seconds,
               e.status + over});
        }
      }
      const bool planar = chain.input_dim() == 2 && pieces;
      if (wants(asked, BoundMethod::regions)) {
        if (!planar) {
          skipped(BoundMethod::regions, "needs a 2-D input and ReLU/LeakyReLU activations");
        } else if (left() <= 0) {
          skipped(BoundMethod::regions, "no time left in the budget");
        } else {
          PlanarOptions po;
          po.seconds = left();
          po.threads = options.threads;
          const PlanarResult p = local ? planar_lipschitz(chain, *options.domain, po)
                                       : planar_lipschitz_global(chain, po);
          add({"regions", p.complete ? p.upper_bound : kInf, p.complete, local, p.seconds,
               std::to_string(p.regions) + " linear regions" +
                   (local ? " meeting the domain" : " of the plane") +
                   (p.complete ? "" : " before it stopped: " + to_string(p.status))});
          exact_already = p.complete;
          if (p.lower_bound > r.lower_bound) {
            r.lower_bound = p.lower_bound;
            r.witness = p.witness;
            r.lower_bound_method = "gradient inside an enumerated linear region";
          }
        }
      }
      if (wants(asked, BoundMethod::sdp)) {
        if (chain.depth() < 2) {
          skipped(BoundMethod::sdp, "a single affine map: its norm is exact already");
        } else if (neurons > options.sdp_max_neurons) {
          skipped(BoundMethod::sdp, std::to_string(neurons) + " neurons: above the SDP's limit of " +
                                        std::to_string(options.sdp_max_neurons));
        } else if (left() <= 0) {
          skipped(BoundMethod::sdp, "no time left in the budget");
        } else if (asked == BoundMethod::best && exact_already) {
          add({"sdp", kInf, false, local, 0, "skipped: the enumeration of linear regions is exact"});
        } else {
          SdpOptions so;
          so.max_seconds = left();
          const SdpBound s = lipsdp_neuron(chain, slopes, so);
          add({"sdp", s.certified ? s.upper_bound : kInf, s.certified, local, s.seconds,
               s.status + over});
        }
      }
      if (local && asked == BoundMethod::best && exact_already) {
        add({"local", kInf, false, true, 0, "skipped: the enumeration of linear regions is exact"});
      } else if (local && wants(asked, BoundMethod::local)) {
        LocalOptions lo;
        lo.seconds = std::max(0.0, left());
        lo.tolerance = options.local_tolerance;
        const LocalBound b = local_lipschitz(chain, *options.domain, lo);
        add({"local", b.upper_bound, std::isfinite(b.upper_bound), true, b.seconds,
             "branch and bound, " + std::to_string(b.boxes) + " boxes, " + b.status +
                 ", lower bound " + number(b.lower_bound)});
        if (b.lower_bound > r.lower_bound) {
          r.lower_bound = b.lower_bound;
          r.witness = b.witness;
          r.lower_bound_method = "gradient at a branch-and-bound box centre";
        }
      }
    }
  }

  // The answer: the tightest certified value of the method asked for (of all, for best);
  // where that method proved nothing, the tightest of the others (the product at least).
  r.upper_bound = kInf;
  const auto pick = [&](bool any) {
    for (const MethodBound& b : r.bounds)
      if (b.certified && (any || b.method == to_string(asked)) &&
          (r.method.empty() || b.upper_bound < r.upper_bound)) {
        r.method = b.method;
        r.upper_bound = b.upper_bound;
        r.local = b.local;
      }
  };
  pick(asked == BoundMethod::best);
  if (r.method.empty()) pick(true);
  r.certified = !r.method.empty();
  return r;
}

}  // namespace lipschitz
