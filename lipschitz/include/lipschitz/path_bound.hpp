#pragma once
/// \file path_bound.hpp
/// The averaged-activation bound (averaged_bound.hpp, Combettes & Pesquet 2020) for networks
/// that are one path of layers but too large for dense affine maps: conv critics. The composed
/// norms N(k, j) are taken on the layers' own operators (docs/math.md §8.2).

#include <lipschitz/network_bound.hpp>

#include <string>

namespace lipschitz {

/// Options of averaged_path_bound().
struct PathBoundOptions {
  /// A composed map is formed as a dense matrix (its smaller side's basis pushed through the
  /// layers, forward or adjoint) when that side has at most this many entries …
  Index max_dense_side = 2048;
  /// … and the work, side × the layers' multiply-adds per application (twice: the values and
  /// their magnitudes for the rounding bound), is at most this many multiply-adds.
  double max_dense_work = 4e10;
  int threads = 0;  ///< for the dense columns; 0: all cores
};

/// What averaged_path_bound() found.
struct PathBound {
  bool ok = false;          ///< the network is a path with activations of known slopes
  std::string reason;       ///< when !ok, why
  double upper_bound = 0;   ///< certified bound on Lip(f) (+∞ if a factor is)
  int exact_norms = 0;      ///< composed norms N(k, j) certified as dense matrices
  int split_norms = 0;      ///< those bounded by ‖A‖‖B‖ of a split instead
  double seconds = 0;
};

/// a_k = c^{(k−1)}·N(k, 0) + Σ_{j<k} b_j c^{(k−1−j)}·N(k, j)·a_j over the path's stretches of
/// linear layers (between activations), with c_j = (α+β)/2 and b_j = (β−α)/2 of activation j's
/// global slopes (one range per layer, so C and B are scalars and N(k, j) is the norm of the
/// pure composition of stretches j+1 … k, biases dropped). Each N(k, j) is, in order of
/// preference: certified as a dense matrix (dense_norm.hpp, plus the rounding of pushing the
/// basis through the layers: ((1+γ)^t − 1)·‖|W_t|⋯|W_1|‖_F, the magnitudes formed beside the
/// values), or the least ‖N(k, i)‖·‖N(i, j)‖ over splits, or, for one stretch, the product of
/// its layers' factors in `product` (bound_network() of the same network, BatchNorm folded).
/// Sound: any N may be replaced by an upper bound of it.
PathBound averaged_path_bound(const Network& network, const NetworkBound& product,
                              const PathBoundOptions& options = {});

}  // namespace lipschitz
