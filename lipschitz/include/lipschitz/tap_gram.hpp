#pragma once
/// \file tap_gram.hpp
/// The Gram matrix of every frequency block of a convolution, formed from products of its
/// kernel taps rather than from the blocks (docs/math.md §4.4).

#include <lipschitz/buffer.hpp>
#include <lipschitz/conv_spec.hpp>

#include <Eigen/Core>

#include <complex>
#include <vector>

namespace lipschitz {

/// The smaller Gram matrix of every block B(ν) of KernelSpectrum, as a trigonometric polynomial
/// with one matrix coefficient per tap offset.
///
/// A tap t of the (dilated, strided) kernel sits at p = t∘d on the torus; with stride s it
/// reads the polyphase component r(t) = p mod s, shifted by q(t) = ⌊p/s⌋ on the folded torus
/// m = N/s (Sedghi et al. 2019, ALGORITHMS.md §2: B(ν) is unitarily equivalent to
/// `Σ_t W_t ⊗ e_{r(t)}ᵀ · exp(−2πi ν·q(t)/m)`, W_t the `c_out/g × c_in/g` slice of tap t).
/// Multiplying out, for every ν of the folded grid,
///
///     B Bᴴ = Σ_δ R_δ e^{−2πi ν·δ/m},  R_δ = Σ_{r(t)=r(t'), q(t)−q(t')=δ} W_t W_t'ᵀ        (rows)
///     Bᴴ B = Σ_δ C_δ e^{−2πi ν·δ/m},  C_δ[r(t), r(t')] = Σ_{q(t')−q(t)=δ} W_tᵀ W_t'       (columns)
///
/// with real coefficients and R_{−δ} = R_δᵀ. They are formed once, `(#taps)²/2` real products
/// in all, instead of one complex product per frequency block; each block's Gram matrix is
/// then a sum over the `(2Q₁+1)(2Q₂+1)` offsets δ (Q = max q), done in two separable passes.
/// For a 64-channel 3×3 layer on a 56 × 56 torus that is 0.6 ms of products for all 1570
/// blocks, against ~15 ms for their Gram matrices one by one (bench/README.md).
///
/// Frequencies are those of KernelSpectrum (same index f, same order: u major), so that
/// consecutive indices share u; gram() reuses the first pass for them.
///
/// Rounding: every entry of a Gram matrix is a sum of products of weights, so
/// ‖fl(G) − G‖₂ ≤ rounding_bound() for every block (see there). The matrices are computed in
/// double whatever T is; the bound assumes that.
class TapGram {
 public:
  using Complex = std::complex<double>;
  /// Column-major; only the lower triangle is written.
  using ComplexSquare = Eigen::Matrix<Complex, Eigen::Dynamic, Eigen::Dynamic>;
  using RealSquare = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic>;

  /// \param weight forward-convolution weight `(c_out, c_in/g, k₁, k₂)`, row-major
  /// \param conv   its geometry (channels, groups, kernel, dilation, stride)
  /// \param torus  torus size, each a multiple of the stride
  /// \param threads threads for the products; 0: all cores
  template <class T>
  TapGram(const T* weight, const ForwardConv& conv, const Extent& torus, int threads = 0);

  /// Bytes the coefficients take.
  static double bytes_needed(const ForwardConv& conv, const Extent& torus);
  /// Whether forming the blocks' Gram matrices from tap products is estimated cheaper than
  /// from the blocks (KernelSpectrum, then one product per block). A cost model in
  /// multiply-adds, its weights fitted on this project's machine (bench/README.md, "Gram
  /// matrices from tap products"): taps win for many frequencies and few taps.
  static bool preferred(const ForwardConv& conv, const Extent& torus);

  /// Side d of each Gram matrix: `c_out/g` (B Bᴴ) when that is the smaller side of B, else
  /// `c_in/g · s₁s₂` (Bᴴ B).
  Index side() const { return side_; }
  /// Whether the Gram matrices are B Bᴴ (rows) rather than Bᴴ B.
  bool rows() const { return rows_; }
  Index frequency_count() const;
  /// ν of frequency f, as KernelSpectrum::frequency().
  Extent frequency(Index f) const;
  /// ν = −ν (mod m): the Gram matrix is then real.
  bool self_conjugate(Index f) const;

  /// The first pass of the current frequency row u, kept between calls.
  struct Scratch {
    Eigen::ArrayXXd re, im;  // packed lower triangles × offsets δ₂ of the row u
    Eigen::ArrayXd column_re, column_im;  // one column of the Gram matrix being summed
    std::vector<Complex> phases;          // e^{−2πi v δ₂/m₂} of the frequency being summed
    Index u = -1, group = -1;
  };
  /// G(ν_f) for `group`: its lower triangle, the strict upper one zero (as the σ₁ search's
  /// Frobenius norms of the lower triangle expect).
  void gram(Index f, Index group, ComplexSquare& out, Scratch& scratch) const;
  /// The same for a self-conjugate frequency, whose Gram matrix is real.
  void real_gram(Index f, Index group, RealSquare& out, Scratch& scratch) const;

  /// tr G(ν_f) for `group`, from the coefficients' traces (no Gram matrix formed): the bound
  /// ‖B‖_F² on σ₁². Within (d + 1)·rounding_bound() of the exact trace: a sum of at most
  /// n + d rounded products of the same magnitudes (see there).
  double trace(Index f, Index group) const;

  /// `‖fl(G(ν)) − G(ν)‖₂` is at most this for every frequency and group: each entry is a sum
  /// of n = taps·inner + 2(2Q₁+1) + 2(2Q₂+1) + 16 rounded products (products, offsets, the
  /// phases' own rounding), so `|fl(G) − G| ≤ 2γ_n S` entrywise with S = Σ_{t,t'} |W_t||W_t'|ᵀ
  /// (or its transpose), and ‖S‖₂ ≤ (Σ_t ‖W_t‖_F)² (Higham, Accuracy and Stability, §3.5; the
  /// factor 2 covers complex arithmetic).
  double rounding_bound() const { return rounding_bound_; }

 private:
  void first_pass(Index u, Index group, Scratch& scratch) const;
  /// Both passes for frequency f (the first only when `scratch` holds another row or group):
  /// calls `fn(j, re, im)` with rows j.. of column j of the Gram matrix's lower triangle.
  template <class Fn>
  void columns(Index f, Index group, Scratch& scratch, Fn&& fn) const;
  /// exp(−2πi·k/n) from the exact residue k mod n, exact at multiples of a quarter turn.
  static Complex phase(Index k, Index n);

  ForwardConv conv_;
  Extent folded_{1, 1};
  Extent reach_{0, 0};  // Q: the offsets δ run over [−Q, Q]
  Index side_ = 0;
  bool rows_ = true;
  Index packed_ = 0;  // d(d+1)/2
  // [group][δ₁ + Q₁][δ₂ + Q₂]: packed lower triangle (column by column) of each coefficient.
  detail::Buffer<double> coefficients_;
  std::vector<char> present_;  // the same index: whether the coefficient has any product
  std::vector<double> traces_;  // the same index: tr C_δ
  double rounding_bound_ = 0;
  Index offset_index(Index group, Index d1, Index d2) const {
    return (group * (2 * reach_[0] + 1) + d1 + reach_[0]) * (2 * reach_[1] + 1) + d2 + reach_[1];
  }
};

}  // namespace lipschitz
