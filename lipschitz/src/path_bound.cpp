#include <lipschitz/path_bound.hpp>

#include <lipschitz/affine_chain.hpp>
#include <lipschitz/averaged_bound.hpp>
#include <lipschitz/conv_operator.hpp>
#include <lipschitz/dense_norm.hpp>

#include "layer_maps.hpp"
#include "parallel.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <exception>
#include <limits>
#include <memory>

namespace lipschitz {
namespace {

using Vector = Eigen::VectorXd;
constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kEps = std::numeric_limits<double>::epsilon();

// One linear layer (its bias dropped) as a map on vectors and its adjoint; with `magnitude`,
// the map of the absolute values of its entries, |A| (whose adjoint is |Aᵀ|).
class LinearMap {
 public:
  LinearMap(const Layer& layer, bool magnitude) : layer_(layer) {
    in_ = element_count(layer.input_shape);
    out_ = element_count(layer.output_shape);
    if (layer.kind == LayerKind::conv) {
      weight_ = layer.weight;
      if (magnitude)
        for (double& w : weight_) w = std::abs(w);
      if (!layer.linear) {
        const ForwardConv fc = forward_conv(layer.spec);
        conv_ = std::make_unique<SpatialConvOperator<double>>(weight_.data(), fc, 1);
        input_ = fc.input;
        wrap_ = detail::circular_wrap(layer.spec);
        const Index taps = layer.spec.kernel[0] * layer.spec.kernel[1];
        terms_ = std::max(fc.in_channels / fc.groups, fc.out_channels / fc.groups) * taps;
      } else {
        terms_ = std::max(layer.spec.weight_dim0, layer.spec.weight_dim1);
      }
    } else if (layer.kind == LayerKind::batch_norm || layer.kind == LayerKind::affine) {
      const std::vector<double>& s = layer.kind == LayerKind::batch_norm ? layer.scale
                                                                         : layer.affine_scale.values;
      scale_.resize(static_cast<std::size_t>(in_), 1.0);
      if (layer.kind == LayerKind::batch_norm) {
        const Index per = in_ / layer.input_shape[0];
        for (Index e = 0; e < in_; ++e) scale_[std::size_t(e)] = s[std::size_t(e / per)];
      } else if (!s.empty()) {  // broadcast: only a scalar or a full-size scale reaches here
        for (Index e = 0; e < in_; ++e) scale_[std::size_t(e)] = s.size() == 1 ? s[0] : s[std::size_t(e)];
      }
      if (magnitude)
        for (double& v : scale_) v = std::abs(v);
    }
  }

  Index in_dim() const { return in_; }
  Index out_dim() const { return out_; }
  Index terms() const { return terms_; }

  void forward(const Vector& x, Vector& y) { map(x, y, false); }
  void adjoint(const Vector& y, Vector& x) { map(y, x, true); }

 private:
  void map(const Vector& from, Vector& to, bool adjoint) {
    to.setZero(adjoint ? in_ : out_);
    const Layer& l = layer_;
    switch (l.kind) {
      case LayerKind::conv:
        if (l.linear) {
          const Index out = l.spec.weight_dim0, in = l.spec.weight_dim1, rows = in_ / in;
          const Eigen::Map<const Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>
              w(weight_.data(), out, in);
          for (Index r = 0; r < rows; ++r) {
            if (adjoint) to.segment(r * in, in) = w.transpose() * from.segment(r * out, out);
            else to.segment(r * out, out) = w * from.segment(r * in, in);
          }
        } else if (l.spec.transposed) {
          if (adjoint) conv_->apply(from.data(), to.data());
          else conv_->apply_adjoint(from.data(), to.data());
        } else if (adjoint) {  // (T R)ᵀ = R⁻¹ Tᵀ for a circular layer's wrap R
          conv_->apply_adjoint(from.data(), to.data());
          to = detail::circular_shift(to, input_, wrap_, true);
        } else {
          conv_->apply(detail::circular_shift(from, input_, wrap_, false).data(), to.data());
        }
        return;
      case LayerKind::batch_norm:
      case LayerKind::affine:
        for (Index e = 0; e < in_; ++e) to(e) = from(e) * scale_[std::size_t(e)];
        return;
      case LayerKind::reshape: to = from; return;
      case LayerKind::pad: detail::apply_pad(l, from, to, adjoint); return;
      default: return;
    }
  }

  const Layer& layer_;
  Index in_ = 0, out_ = 0, terms_ = 16;  // pads: each entry a sum of at most 9 copies
  std::vector<double> weight_, scale_;
  std::unique_ptr<SpatialConvOperator<double>> conv_;
  Extent input_{1, 1}, wrap_{0, 0};  // a circular layer's input size and wrap
};

double multiply_adds(const Layer& layer) {
  if (layer.kind != LayerKind::conv) return double(element_count(layer.output_shape));
  if (layer.linear)
    return double(weight_size(layer.spec)) *
           double(element_count(layer.input_shape) / layer.spec.weight_dim1);
  const ForwardConv fc = forward_conv(layer.spec);
  return double(weight_size(layer.spec)) * double(fc.output[0] * fc.output[1]);
}

bool linear_kind(LayerKind kind) {
  return kind == LayerKind::conv || kind == LayerKind::batch_norm || kind == LayerKind::pad ||
         kind == LayerKind::reshape || kind == LayerKind::affine;
}

}  // namespace

PathBound averaged_path_bound(const Network& network, const NetworkBound& product,
                              const PathBoundOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  PathBound r;
  const auto& layers = network.layers;
  std::vector<int> path;
  for (int i = network.output; i > 0; i = layers[i].inputs[0]) {
    if (layers[i].inputs.size() != 1) {
      r.reason = "layer '" + layers[i].name + "' (" + layers[i].type + "): the network is not a chain";
      return r;
    }
    path.push_back(i);
  }
  std::reverse(path.begin(), path.end());
  // Stretches of linear layers, and the activations between them.
  std::vector<std::vector<int>> stretches(1);
  std::vector<SlopeRange> slopes;
  for (int i : path) {
    const Layer& l = layers[i];
    if (l.kind == LayerKind::activation) {
      if (!std::isfinite(product.layers[i].lipschitz_factor)) {
        r.reason = "layer '" + l.name + "': " + product.layers[i].note;
        return r;
      }
      slopes.push_back(activation_slopes(l.activation, l.parameter));
      stretches.emplace_back();
    } else if (l.kind == LayerKind::affine && l.affine_scale.values.size() > 1 &&
               static_cast<Index>(l.affine_scale.values.size()) != element_count(l.input_shape)) {
      r.reason = "layer '" + l.name + "': an affine scale broadcast over some dimensions";
      return r;
    } else if (linear_kind(l.kind)) {
      stretches.back().push_back(i);
    } else {
      r.reason = "layer '" + l.name + "' (" + l.type + "): a " + to_string(l.kind) +
                 " layer is neither linear nor an elementwise activation";
      return r;
    }
  }
  const int m = static_cast<int>(stretches.size());
  const auto in_dim = [&](int s) {  // input dimension of stretch s (0-based)
    return s == 0 ? element_count(layers[0].output_shape)
                  : element_count(layers[stretches[s - 1].empty() ? 0 : stretches[s - 1].back()].output_shape);
  };
  for (int s = 1; s < m; ++s)
    if (stretches[s - 1].empty()) {  // two activations in a row: their stretch is the identity
      r.reason = "two activations with nothing between them";
      return r;
    }

  // Single stretches without a dense form: the product of their layers' factors, a folded
  // BatchNorm's factor replacing its conv's (network_bound.cpp).
  const auto stretch_product = [&](int s) {
    double p = 1;
    const std::vector<int>& st = stretches[s];
    for (std::size_t q = 0; q < st.size(); ++q) {
      const Layer& l = layers[st[q]];
      const bool folds_next = q + 1 < st.size() && l.kind == LayerKind::conv &&
                              layers[st[q + 1]].kind == LayerKind::batch_norm &&
                              st[q] != network.output && (!l.linear || l.output_shape.size() == 1);
      if (folds_next) continue;  // the BatchNorm's factor is ‖bn∘conv‖
      p *= product.layers[st[q]].lipschitz_factor;
    }
    return p;
  };

  // N[k][j]: a bound on ‖stretch_k ∘ ⋯ ∘ stretch_{j+1}‖ (stretches 1-based, 0 ≤ j < k ≤ m).
  std::vector<std::vector<double>> norm(m + 1, std::vector<double>(m + 1, kInf));
  const int threads = detail::resolve_threads(options.threads);
  for (int span = 1; span <= m; ++span)
    for (int j = 0; j + span <= m; ++j) {
      const int k = j + span;
      std::vector<int> composite;
      for (int s = j; s < k; ++s) composite.insert(composite.end(), stretches[s].begin(), stretches[s].end());
      const Index cols = in_dim(j), rows = element_count(layers[composite.empty() ? 0 : composite.back()].output_shape);
      const Index side = std::min(rows, cols);
      double work = 0;
      for (int i : composite) work += multiply_adds(layers[i]);
      work *= 2 * double(side);
      double best = span == 1 ? stretch_product(j) : kInf;
      for (int i = j + 1; i < k; ++i) best = std::min(best, norm[k][i] * norm[i][j]);
      if (!composite.empty() && side <= options.max_dense_side && work <= options.max_dense_work &&
          double(rows) * double(cols) <= double(Index(1) << 27)) {
        // The smaller side's basis pushed through the layers: columns of A, or of Aᵀ.
        const bool forward = cols <= rows;
        const Index other = forward ? rows : cols;
        Eigen::MatrixXd values(other, side), magnitudes(other, side);
        Index terms = 2;
        std::exception_ptr failure;
#pragma omp parallel num_threads(threads)
        {
          try {
            std::vector<LinearMap> maps, mags;
            for (int i : composite) {
              maps.emplace_back(layers[i], false);
              mags.emplace_back(layers[i], true);
            }
#pragma omp single
            for (const LinearMap& map : maps) terms = std::max(terms, map.terms() + 2);
            Vector v, w, mv, mw;
#pragma omp for schedule(dynamic, 8)
            for (Index c = 0; c < side; ++c) {
              v = Vector::Unit(forward ? cols : rows, c);
              mv = v;
              if (forward) {
                for (std::size_t q = 0; q < maps.size(); ++q) {
                  maps[q].forward(v, w);
                  mags[q].forward(mv, mw);
                  std::swap(v, w);
                  std::swap(mv, mw);
                }
              } else {
                for (std::size_t q = maps.size(); q-- > 0;) {
                  maps[q].adjoint(v, w);
                  mags[q].adjoint(mv, mw);
                  std::swap(v, w);
                  std::swap(mv, mw);
                }
              }
              values.col(c) = v;
              magnitudes.col(c) = mv;
            }
          } catch (...) {
#pragma omp critical
            if (!failure) failure = std::current_exception();
          }
        }
        if (failure) std::rethrow_exception(failure);
        // |fl(A e) − A e| ≤ ((1 + γ)^t − 1)·|A_t|⋯|A_1| e for t layers whose sums have at most
        // `terms` terms (Higham §3.5); the magnitudes themselves are rounded by as much.
        const double gamma = double(terms) * kEps / (1 - double(terms) * kEps);
        const double t = double(composite.size());
        const double relative = std::pow(1 + gamma, t) - 1;
        const double margin = relative * magnitudes.norm() * (1 + 2 * relative + 4 * kEps);
        if (values.allFinite() && magnitudes.allFinite()) {
          const double dense = (certified_spectral_norm(values).upper + margin) * (1 + 4 * kEps);
          if (dense < best) best = dense;
          ++r.exact_norms;
        }
      } else if (span > 1) {
        ++r.split_norms;
      }
      norm[k][j] = best;
    }

  // a_k over the stretches (docs/math.md §8.2), the activations' C and B as scalars.
  const double bound = averaged_scalar_bound(norm, slopes);
  r.ok = true;
  r.upper_bound = bound;
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return r;
}

}  // namespace lipschitz
