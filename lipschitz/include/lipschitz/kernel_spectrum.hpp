#pragma once
/// \file kernel_spectrum.hpp
/// The per-frequency matrices of a multi-channel convolution on a torus (Sedghi, Gupta & Long,
/// ICLR 2019), folded for stride.

#include <lipschitz/buffer.hpp>
#include <lipschitz/conv_spec.hpp>

#include <Eigen/Core>

#include <complex>
#include <cstddef>
#include <vector>

namespace lipschitz {

/// The folded grid m = N/s of a torus N; throws std::invalid_argument unless every side of
/// the torus is a positive multiple of the stride.
Extent folded_torus(const ForwardConv& conv, const Extent& torus);

/// Whether KernelSpectrum computes every frequency's matrix up front or each block on request.
enum class SpectrumStorage {
  stored,    ///< all matrices in one buffer, computed up front (ConvOperator needs this)
  on_demand  ///< only the weight; each block computed by direct summation when asked
};

/// The 2-D DFT of every kernel slice on the torus `N_1 × N_2`, stored for the half grid of a
/// real-to-complex transform (`N_1 × (N_2/2 + 1)` frequencies), each frequency a row-major
/// `c_out × (c_in/groups)` matrix
///
///     M(ω) = Σ_t K[:, :, t] · exp(−2πi (u·t₁d₁/N₁ + v·t₂d₂/N₂))          (ALGORITHMS.md §1)
///
/// Taps land at `t·d mod N` and add up, so kernels larger than the torus wrap instead of being
/// cropped. For stride `s` (dividing N), `block()` returns the folded matrix of §2
///
///     B(ν) = (s₁s₂)^(−1/2) · [ M(ν + a∘m) ]_{a ∈ [0,s₁)×[0,s₂)},  m = N/s,
///
/// one `(c_out/g) × (c_in/g · s₁s₂)` block per group. The singular values of the circular strided
/// convolution on the torus are exactly the union over ν of those of the B(ν); since the kernel
/// is real, B(−ν) has those of B(ν), so ν runs over one representative of each pair {ν, −ν}
/// (the half grid, the self-conjugate columns v = 0 and v = m₂/2 halved once more), with
/// `multiplicity()` 2, or 1 where ν = −ν. Those self-conjugate blocks are unitarily equivalent
/// to real matrices (`real_block()`), which cost a quarter of the arithmetic.
///
/// Two storages (SpectrumStorage):
/// - `stored` (the default): a buffer of all `N₁(N₂/2+1) · c_out · c_in/g` complex numbers,
///   computed at construction: `O(c_out c_in N₁N₂ · k₁k₂)` by direct summation for kernels of
///   up to 64 taps (matrix products), `O(c_out c_in N₁N₂ log N₁N₂)` by FFT above that. Needed
///   by ConvOperator (`half_matrix()`).
/// - `on_demand`: only a copy of the weight; the blocks are computed by the same direct sum
///   when asked, into the caller's scratch, a run of frequencies at a time (`prefetch()`), so
///   that the weight is read once per run: `k₁k₂` multiply-adds per entry per request, small
///   next to the block's Gram matrix, and memory independent of the torus (512 channels on a
///   128 × 128 torus: 35 GB stored, 19 MB on demand). analyze_conv() uses it when the buffer
///   would not fit in its memory limit or exceed ConvNormOptions::max_stored_spectrum_bytes
///   (1 GiB). Below that it is 10–20 % slower in the median (bench/compare.py's layers, fresh
///   processes): it saves faulting in the buffer's pages, but the σ₁ search asks for each block
///   twice and the weight is re-read for every run.
template <class T>
class KernelSpectrum {
 public:
  using Complex = std::complex<T>;
  /// Row-major, like the stored matrices, so copying a block is a run of contiguous rows.
  using Matrix = Eigen::Matrix<Complex, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

  /// \param weight forward-convolution weight `(c_out, c_in/g, k₁, k₂)`, row-major
  /// \param conv   its geometry (only channels, groups, kernel, dilation, stride are used)
  /// \param torus  torus size, each a multiple of the stride
  /// \param threads threads for the transforms; 0: all cores
  /// \param storage whether to compute every matrix now or each block when asked
  KernelSpectrum(const T* weight, const ForwardConv& conv, const Extent& torus, int threads = 0,
                 SpectrumStorage storage = SpectrumStorage::stored);

  /// Bytes the spectrum of `conv` on `torus` needs with that storage: the buffer or the weight
  /// copy, plus transform scratch for `threads` threads (0: all cores).
  static double bytes_needed(const ForwardConv& conv, const Extent& torus, int threads = 0,
                             SpectrumStorage storage = SpectrumStorage::stored);
  /// Whether all matrices are held in memory (`half_matrix()` needs it).
  bool stored() const { return data_.data() != nullptr; }

  const ForwardConv& conv() const { return conv_; }
  const Extent& torus() const { return torus_; }
  /// Folded grid size m = N / s.
  const Extent& folded() const { return folded_; }
  /// Frequencies ν, one of each pair {ν, −ν} of the folded grid: `⌊m₁m₂/2⌋ + 1` to
  /// `⌊m₁m₂/2⌋ + 2` of them, in the order of the half grid (u major).
  Index frequency_count() const { return frequency_count(folded_); }
  /// The same for a folded grid.
  static Index frequency_count(const Extent& folded);
  /// ν = (u, v) of frequency index `f`.
  Extent frequency(Index f) const { return frequency(folded_, f); }
  /// The same on a folded grid.
  static Extent frequency(const Extent& folded, Index f);
  /// 1 where ν = −ν (mod m), else 2: the values of B(ν) stand for B(−ν) too.
  Index multiplicity(Index f) const { return self_conjugate(f) ? 1 : 2; }
  /// Whether ν = −ν (mod m): then B(ν) is unitarily equivalent to the real `real_block()`.
  bool self_conjugate(Index f) const {
    const Extent nu = frequency(f);
    return (2 * nu[0]) % folded_[0] == 0 && (2 * nu[1]) % folded_[1] == 0;
  }
  /// Rows and columns of each block B(ν).
  Index block_rows() const { return conv_.out_channels / conv_.groups; }
  Index block_cols() const {
    return conv_.in_channels / conv_.groups * conv_.stride[0] * conv_.stride[1];
  }
  /// Scratch for block() and real_block() on demand (a stored spectrum is read in place): the
  /// alias matrices of frequencies [first, first + count) of `group`, `c_out/g · c_in/g` rows
  /// (row-major matrices, one per column), column `(f − first)·s₁s₂ + a` for alias a.
  struct AliasScratch {
    Eigen::Matrix<Complex, Eigen::Dynamic, Eigen::Dynamic> values;
    Index first = 0, count = 0, group = -1;
  };
  /// On demand: computes the alias matrices of frequencies [first, first + count) of `group` in
  /// one matrix product, so the weight is read once for all of them rather than once per block;
  /// the block() and real_block() calls for them that follow, with the same scratch, read them.
  /// (A frequency outside the run is computed alone.) Does nothing when stored.
  void prefetch(Index first, Index count, Index group, AliasScratch& scratch) const;
  /// Frequencies per prefetch(): a scratch of at most 8 MiB, and about 8 runs per thread
  /// over all frequencies so that a dynamic schedule balances them. At least 1.
  Index prefetch_count(int threads) const { return run_length(conv_, torus_, threads); }
  static Index run_length(const ForwardConv& conv, const Extent& torus, int threads);
  /// Writes B(ν) of frequency `f` for `group` into `out` (resized as needed).
  void block(Index f, Index group, Matrix& out, AliasScratch& scratch) const;
  void block(Index f, Index group, Matrix& out) const {
    AliasScratch scratch;
    block(f, group, out, scratch);
  }
  /// Row-major real block, same shape as B(ν).
  using RealMatrix = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  /// For a self-conjugate frequency (`self_conjugate(f)`), writes the real matrix B(ν)·Q with
  /// Q unitary, so it has exactly the singular values of B(ν). Its alias columns come in
  /// conjugate pairs x, x̄ (M(−ω) = conj M(ω), and −(ν + a∘m) is again an alias of ν) or are
  /// real; Q maps each pair [x, x̄] to √2·[Re x, Im x].
  void real_block(Index f, Index group, RealMatrix& out, AliasScratch& scratch) const;
  void real_block(Index f, Index group, RealMatrix& out) const {
    AliasScratch scratch;
    real_block(f, group, out, scratch);
  }
  /// M(ω) at a full-grid frequency, entry (o, i) with o the output channel, i the input channel
  /// within its group. Uses M(−ω) = conj M(ω) for ω outside the stored half.
  Complex entry(Index u, Index v, Index o, Index i) const;
  /// `√(k₁k₂) · ‖K‖_F`: an upper bound on the norm of the layer with any padding and stride
  /// (triangle inequality over the taps); the scale of the FFT's absolute rounding error.
  double norm_scale() const { return norm_scale_; }
  /// M(ω) for a stored frequency (`v ≤ N₂/2`): row-major `c_out × (c_in/g)`. Requires
  /// `stored()`.
  const Complex* half_matrix(Index u, Index v) const {
    return data_.data() + (u * half_ + v) * matrix_size_;
  }

 private:
  /// Kernels with at most this many taps are transformed by direct summation (see
  /// direct_transform), larger ones by FFTW.
  static constexpr Index kDirectTaps = 64;
  /// Scratch of one prefetch() run at most (unless one frequency needs more).
  static constexpr Index kPrefetchBytes = Index(8) << 20;
  void direct_transform(const T* weight, int threads);
  /// M(ν + a∘m) of one group, row-major `c_out/g × c_in/g`, or its conjugate.
  struct AliasView {
    const Complex* data = nullptr;
    bool conjugate = false;
  };
  /// The alias matrices of frequency `f` for `group`, a = 0 … s₁s₂ − 1: pointers into the
  /// stored buffer, or computed into `scratch` on demand.
  void alias_views(Index f, Index group, AliasScratch& scratch,
                   std::vector<AliasView>& views) const;
  /// The direct sum's phases exp(−2πi(u·t₁d₁/N₁ + v·t₂d₂/N₂)) for tap t, from exact residues.
  Complex phase(Index u, Index v, Index t1, Index t2) const;

  ForwardConv conv_;
  Extent torus_, folded_;
  Index half_ = 0;         // N₂/2 + 1
  Index matrix_size_ = 0;  // c_out · c_in/g
  double norm_scale_ = 0;
  detail::Buffer<T> weight_;  // on demand: (c_out · c_in/g) × taps, the weight as given
  // [N₁][half_][c_out][c_in/g]: up to hundreds of MB, written once by the transform.
  detail::Buffer<Complex> data_;
};

extern template class KernelSpectrum<float>;
extern template class KernelSpectrum<double>;

}  // namespace lipschitz
