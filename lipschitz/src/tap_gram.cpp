#include <lipschitz/kernel_spectrum.hpp>
#include <lipschitz/tap_gram.hpp>

#include "parallel.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>

namespace lipschitz {

namespace {

using RealMatrix = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic>;

/// Where tap t of one axis lands: polyphase component r = t·d mod s, shift q = ⌊t·d/s⌋.
struct Landing {
  Index r, q;
};
Landing land(Index t, Index dilation, Index stride) {
  return {t * dilation % stride, t * dilation / stride};
}

/// Both sides of each block B(ν) = c_out/g × c_in/g·s₁s₂, and whether B Bᴴ is the smaller Gram.
struct Sides {
  Index rows, cols;
  bool use_rows() const { return rows <= cols; }
  Index side() const { return std::min(rows, cols); }
};
Sides sides(const ForwardConv& conv) {
  return {conv.out_channels / conv.groups,
          conv.in_channels / conv.groups * conv.stride[0] * conv.stride[1]};
}

Extent reach(const ForwardConv& conv) {
  return {(conv.kernel[0] - 1) * conv.dilation[0] / conv.stride[0],
          (conv.kernel[1] - 1) * conv.dilation[1] / conv.stride[1]};
}

/// Ordered tap pairs (t, t') that contribute to the coefficients: on the rows side only pairs
/// reading the same polyphase component; on the columns side all of them.
Index pair_count(const ForwardConv& conv, bool rows) {
  Index count = 1;
  for (int a = 0; a < 2; ++a) {
    Index axis = 0;
    for (Index t = 0; t < conv.kernel[a]; ++t)
      for (Index u = 0; u < conv.kernel[a]; ++u)
        if (!rows || land(t, conv.dilation[a], conv.stride[a]).r ==
                         land(u, conv.dilation[a], conv.stride[a]).r)
          ++axis;
    count *= axis;
  }
  return count;
}

}  // namespace

template <class T>
TapGram::TapGram(const T* weight, const ForwardConv& conv, const Extent& torus, int threads)
    : conv_(conv), folded_(folded_torus(conv, torus)) {
  reach_ = reach(conv);
  const Sides s = sides(conv);
  rows_ = s.use_rows();
  side_ = s.side();
  packed_ = side_ * (side_ + 1) / 2;
  const Index groups = conv.groups, out_g = s.rows, in_g = conv.in_channels / groups;
  const Index k1 = conv.kernel[0], k2 = conv.kernel[1], taps = k1 * k2;
  const Index offsets = (2 * reach_[0] + 1) * (2 * reach_[1] + 1);
  // Not zero-filled: each coefficient present is written below, absent ones are never read.
  coefficients_ = detail::Buffer<double>(static_cast<std::size_t>(groups * offsets * packed_));
  present_.assign(static_cast<std::size_t>(groups * offsets), 0);
  traces_.assign(static_cast<std::size_t>(groups * offsets), 0.0);

  // Each tap's slice W_t of each group, in double (a strided gather: in parallel).
  const int nthreads = detail::resolve_threads(threads);
  detail::Buffer<double> slices(static_cast<std::size_t>(groups * taps * out_g * in_g));
  auto slice = [&](Index gt) {
    return Eigen::Map<RealMatrix>(slices.data() + gt * out_g * in_g, out_g, in_g);
  };
  std::vector<double> norm(static_cast<std::size_t>(groups * taps));
#pragma omp parallel for num_threads(nthreads) schedule(static)
  for (Index gt = 0; gt < groups * taps; ++gt) {
    const Index g = gt / taps, t = gt % taps;
    Eigen::Map<RealMatrix> w = slice(gt);
    for (Index o = 0; o < out_g; ++o)
      for (Index i = 0; i < in_g; ++i)
        w(o, i) = double(weight[((g * out_g + o) * in_g + i) * taps + t]);
    norm[static_cast<std::size_t>(gt)] = w.norm();
  }
  double worst_sum = 0;  // max over groups of (Σ_t ‖W_t‖_F)², for the rounding bound
  for (Index g = 0; g < groups; ++g) {
    double norms = 0;
    for (Index t = 0; t < taps; ++t) norms += norm[static_cast<std::size_t>(g * taps + t)];
    worst_sum = std::max(worst_sum, norms * norms);
  }
  const Index inner = (rows_ ? in_g : out_g) * taps;
  const double n = double(inner + 2 * (2 * reach_[0] + 1) + 2 * (2 * reach_[1] + 1) + 16);
  const double eps = std::numeric_limits<double>::epsilon();
  rounding_bound_ = 2.0 * (n * eps / (1.0 - n * eps)) * worst_sum;

  // The coefficients of the offsets δ ≥ 0 (lexicographically), each a sum of tap products;
  // those of −δ are their transposes.
  const Index half = offsets / 2 + 1;  // δ = 0 and one of each pair ±δ
#pragma omp parallel num_threads(nthreads)
  {
    detail::Buffer<double> acc_storage(static_cast<std::size_t>(side_ * side_));
    Eigen::Map<RealMatrix> acc(acc_storage.data(), side_, side_);
#pragma omp for schedule(dynamic)
    for (Index job = 0; job < groups * half; ++job) {
      const Index g = job / half, h = job % half + offsets / 2;  // offset index in [mid, end)
      const Index d1 = h / (2 * reach_[1] + 1) - reach_[0], d2 = h % (2 * reach_[1] + 1) - reach_[1];
      acc.setZero();
      bool any = false;
      for (Index t = 0; t < taps; ++t) {
        const Landing a1 = land(t / k2, conv.dilation[0], conv.stride[0]);
        const Landing a2 = land(t % k2, conv.dilation[1], conv.stride[1]);
        for (Index u = 0; u < taps; ++u) {
          const Landing b1 = land(u / k2, conv.dilation[0], conv.stride[0]);
          const Landing b2 = land(u % k2, conv.dilation[1], conv.stride[1]);
          const Eigen::Map<RealMatrix> wt = slice(g * taps + t), wu = slice(g * taps + u);
          if (rows_) {
            // R_δ += W_t W_uᵀ for q(t) − q(u) = δ within one polyphase component.
            if (a1.r != b1.r || a2.r != b2.r || a1.q - b1.q != d1 || a2.q - b2.q != d2) continue;
            acc.noalias() += wt * wu.transpose();
          } else {
            // C_δ[r(t), r(u)] += W_tᵀ W_u for q(u) − q(t) = δ.
            if (b1.q - a1.q != d1 || b2.q - a2.q != d2) continue;
            const Index rt = a1.r * conv.stride[1] + a2.r, ru = b1.r * conv.stride[1] + b2.r;
            acc.block(rt * in_g, ru * in_g, in_g, in_g).noalias() += wt.transpose() * wu;
          }
          any = true;
        }
      }
      if (!any) continue;
      // Pack the lower triangles of C_δ and of C_{−δ} = C_δᵀ.
      const Index mirror = offsets - 1 - h;
      double* lo = coefficients_.data() + (g * offsets + h) * packed_;
      double* up = coefficients_.data() + (g * offsets + mirror) * packed_;
      for (Index j = 0, o = 0; j < side_; ++j)
        for (Index i = j; i < side_; ++i, ++o) {
          lo[o] = acc(i, j);
          up[o] = acc(j, i);
        }
      present_[g * offsets + h] = present_[g * offsets + mirror] = 1;
      traces_[g * offsets + h] = traces_[g * offsets + mirror] = acc.trace();
    }
  }
}

double TapGram::bytes_needed(const ForwardConv& conv, const Extent& /*torus*/) {
  const Extent q = reach(conv);
  const double d = double(sides(conv).side());
  const double offsets = double((2 * q[0] + 1) * (2 * q[1] + 1));
  const double taps = double(conv.kernel[0] * conv.kernel[1]);
  return 8.0 * (double(conv.groups) * offsets * d * (d + 1) / 2 +
                double(conv.out_channels) * double(conv.in_channels / conv.groups) * taps);
}

bool TapGram::preferred(const ForwardConv& conv, const Extent& torus) {
  const Sides s = sides(conv);
  const double rows = double(s.rows), cols = double(s.cols), d = double(s.side());
  const double taps = double(conv.kernel[0] * conv.kernel[1]);
  const Extent q = reach(conv);
  const double jobs =
      double(KernelSpectrum<double>::frequency_count(
          {torus[0] / conv.stride[0], torus[1] / conv.stride[1]})) *
      double(conv.groups);
  const double inner = s.use_rows() ? double(conv.in_channels / conv.groups)
                                    : double(conv.out_channels / conv.groups);
  // Multiply-adds, weighted by their measured speed (a complex product's real multiply-adds
  // count 1). From the blocks: the spectrum (direct sum), each block's Gram matrix, power
  // iteration on the block.
  const double from_blocks = jobs * rows * cols * (2.0 * taps + 2.0 * d + 24.0);
  // From the taps: the products (real, 1.5: slower than Eigen's complex kernel here), then per
  // block both passes, once (the σ₁ search forms each Gram matrix once), memory-bound (3.5),
  // and power iteration on the Gram matrix. (Counted twice, as the search once formed them,
  // the model picked the same source on all ten bench layers.)
  const double products = double(conv.groups) * double(pair_count(conv, s.use_rows())) / 2.0 *
                          d * d * inner * 1.5;
  const double assembly = jobs * d * d * (2.0 * 3.5 * double(2 * q[1] + 1) + 12.0);
  return products + assembly < from_blocks;
}

Index TapGram::frequency_count() const {
  return KernelSpectrum<double>::frequency_count(folded_);
}

Extent TapGram::frequency(Index f) const { return KernelSpectrum<double>::frequency(folded_, f); }

bool TapGram::self_conjugate(Index f) const {
  const Extent nu = frequency(f);
  return (2 * nu[0]) % folded_[0] == 0 && (2 * nu[1]) % folded_[1] == 0;
}

TapGram::Complex TapGram::phase(Index k, Index n) {
  k %= n;
  if (k < 0) k += n;
  // Quarter turns exactly: real phases at self-conjugate frequencies stay exactly real.
  if (k == 0) return {1.0, 0.0};
  if (2 * k == n) return {-1.0, 0.0};
  if (4 * k == n) return {0.0, -1.0};
  if (4 * k == 3 * n) return {0.0, 1.0};
  const double angle = -2.0 * M_PI * double(k) / double(n);
  return {std::cos(angle), std::sin(angle)};
}

void TapGram::first_pass(Index u, Index group, Scratch& s) const {
  // H_δ₂(u) = Σ_δ₁ C_(δ₁,δ₂) e^{−2πi u δ₁/m₁}, one packed triangle per δ₂.
  const Index w2 = 2 * reach_[1] + 1;
  s.re.setZero(packed_, w2);
  s.im.setZero(packed_, w2);
  for (Index d1 = -reach_[0]; d1 <= reach_[0]; ++d1) {
    const Complex p = phase(u * d1, folded_[0]);
    for (Index d2 = -reach_[1]; d2 <= reach_[1]; ++d2) {
      const Index idx = offset_index(group, d1, d2);
      if (!present_[idx]) continue;
      const Eigen::Map<const Eigen::ArrayXd> c(coefficients_.data() + idx * packed_, packed_);
      s.re.col(d2 + reach_[1]) += p.real() * c;
      if (p.imag() != 0) s.im.col(d2 + reach_[1]) += p.imag() * c;
    }
  }
  s.u = u;
  s.group = group;
}

double TapGram::trace(Index f, Index group) const {
  // tr G(ν) = Σ_δ tr(C_δ) e^{−2πi ν·δ/m}, real: tr C_{−δ} = tr C_δ.
  const Extent nu = frequency(f);
  double sum = 0;
  for (Index d1 = -reach_[0]; d1 <= reach_[0]; ++d1) {
    const Complex p = phase(nu[0] * d1, folded_[0]);
    for (Index d2 = -reach_[1]; d2 <= reach_[1]; ++d2) {
      const Index idx = offset_index(group, d1, d2);
      if (present_[idx]) sum += traces_[idx] * (p * phase(nu[1] * d2, folded_[1])).real();
    }
  }
  return sum;
}

template <class Fn>
void TapGram::columns(Index f, Index group, Scratch& s, Fn&& fn) const {
  // G(u, v) = Σ_δ₂ H_δ₂(u) e^{−2πi v δ₂/m₂}, after the first pass of row u (kept in `s`), one
  // column of the lower triangle at a time: the column's sums stay in L1 while the first
  // pass's columns stream past once each.
  const Extent nu = frequency(f);
  if (s.u != nu[0] || s.group != group) first_pass(nu[0], group, s);
  const Index w2 = 2 * reach_[1] + 1;
  s.phases.resize(static_cast<std::size_t>(w2));
  for (Index c = 0; c < w2; ++c) s.phases[c] = phase(nu[1] * (c - reach_[1]), folded_[1]);
  s.column_re.resize(side_);
  s.column_im.resize(side_);
  double* re = s.column_re.data();
  double* im = s.column_im.data();
  for (Index j = 0, o = 0; j < side_; o += side_ - j, ++j) {
    const Index len = side_ - j;
    std::fill(re, re + len, 0.0);
    std::fill(im, im + len, 0.0);
    for (Index c = 0; c < w2; ++c) {
      const double pr = s.phases[c].real(), pi = s.phases[c].imag();
      const double* a = s.re.data() + c * packed_ + o;
      const double* b = s.im.data() + c * packed_ + o;
      if (pi == 0) {
        for (Index i = 0; i < len; ++i) {
          re[i] += pr * a[i];
          im[i] += pr * b[i];
        }
      } else {
        for (Index i = 0; i < len; ++i) {
          re[i] += pr * a[i] - pi * b[i];
          im[i] += pr * b[i] + pi * a[i];
        }
      }
    }
    fn(j, re, im);
  }
}

void TapGram::gram(Index f, Index group, ComplexSquare& out, Scratch& s) const {
  out.resize(side_, side_);
  columns(f, group, s, [&](Index j, const double* re, const double* im) {
    out.col(j).head(j).setZero();
    Complex* column = out.col(j).data();
    for (Index i = j; i < side_; ++i) column[i] = Complex(re[i - j], im[i - j]);
  });
}

void TapGram::real_gram(Index f, Index group, RealSquare& out, Scratch& s) const {
  if (!self_conjugate(f))
    throw std::invalid_argument("real_gram: frequency " + std::to_string(f) +
                                " is not self-conjugate");
  out.resize(side_, side_);
  // The phases are ±1 here (exactly, see phase()), so the imaginary parts are exactly 0.
  columns(f, group, s, [&](Index j, const double* re, const double*) {
    out.col(j).head(j).setZero();
    std::copy(re, re + (side_ - j), out.col(j).data() + j);
  });
}

template TapGram::TapGram(const float*, const ForwardConv&, const Extent&, int);
template TapGram::TapGram(const double*, const ForwardConv&, const Extent&, int);

}  // namespace lipschitz
