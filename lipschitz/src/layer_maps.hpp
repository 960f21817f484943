#pragma once
// Private helpers shared by the code that applies a network's linear layers to vectors
// (affine_chain.cpp, path_bound.cpp): the index maps of pads and of circular convolutions.

#include <lipschitz/network.hpp>

#include <Eigen/Core>

#include <algorithm>

namespace lipschitz::detail {

/// The source index of padded position `pos` in a dimension of size n, or −1 for a zero.
inline Index pad_source(PadMode mode, Index pos, Index n) {
  if (pos >= 0 && pos < n) return pos;
  switch (mode) {
    case PadMode::zeros: return -1;
    case PadMode::replicate: return std::clamp<Index>(pos, 0, n - 1);
    case PadMode::circular: return ((pos % n) + n) % n;
    case PadMode::reflect: {
      const Index period = std::max<Index>(2 * (n - 1), 1);
      const Index m = ((pos % period) + period) % period;
      return m < n ? m : period - m;
    }
  }
  return -1;
}

/// y = P x for a pad layer on its (…, h, w) or (…, w) input; with `adjoint`, x = Pᵀ y (each
/// padded entry added back to the entry it copies). `to` is resized and overwritten.
inline void apply_pad(const Layer& l, const Eigen::VectorXd& from, Eigen::VectorXd& to, bool adjoint) {
  const Shape& in = l.input_shape;
  const Shape& out = l.output_shape;
  const bool two_d = in.size() >= 3;
  const Index w = in.back(), h = two_d ? in[in.size() - 2] : 1;
  const Index ow = out.back(), oh = two_d ? out[out.size() - 2] : 1;
  const Index planes = element_count(in) / (w * h);
  const Index top = two_d ? l.pads[0] : 0, left = l.pads[2];
  to.setZero(adjoint ? element_count(in) : element_count(out));
  for (Index p = 0; p < planes; ++p)
    for (Index y = 0; y < oh; ++y) {
      const Index sy = two_d ? pad_source(l.pad_mode, y - top, h) : 0;
      for (Index x = 0; x < ow; ++x) {
        const Index sx = pad_source(l.pad_mode, x - left, w);
        if (sy < 0 || sx < 0) continue;
        const Index t = (p * oh + y) * ow + x, f = (p * h + sy) * w + sx;
        if (adjoint) to(f) += from(t);
        else to(t) = from(f);
      }
    }
}

/// A circular layer in a Network wraps its input by (k_eff − 1)/2 on each side, as PyTorch's
/// padding_mode='circular' does (network_builder.cpp), while the engine's operators read
/// x[(j·s + t·d) mod n]: PyTorch's y = T(R x) with (R x)[i] = x[(i − p) mod n]. Returns R x
/// (`inverse`: R⁻¹ x = Rᵀ x, for the adjoint) on a (channels, n₁, n₂) vector.
inline Eigen::VectorXd circular_shift(const Eigen::VectorXd& x, const Extent& n, const Extent& p,
                                      bool inverse) {
  if (p[0] == 0 && p[1] == 0) return x;
  Eigen::VectorXd out(x.size());
  const Index plane = n[0] * n[1], planes = x.size() / plane;
  for (Index c = 0; c < planes; ++c)
    for (Index i = 0; i < n[0]; ++i)
      for (Index j = 0; j < n[1]; ++j) {
        const Index si = ((inverse ? i + p[0] : i - p[0]) % n[0] + n[0]) % n[0];
        const Index sj = ((inverse ? j + p[1] : j - p[1]) % n[1] + n[1]) % n[1];
        out(c * plane + i * n[1] + j) = x(c * plane + si * n[1] + sj);
      }
  return out;
}

/// The wrap of a circular layer per spatial dimension, (k_eff − 1)/2 (0 for other layers).
inline Extent circular_wrap(const ConvSpec& spec) {
  if (spec.padding_mode != PaddingMode::circular) return {0, 0};
  const Extent k = effective_kernel(spec);
  return {(k[0] - 1) / 2, (k[1] - 1) / 2};
}

}  // namespace lipschitz::detail
