#pragma once
/// \file conv_operator.hpp
/// The true (zero-padded) convolution and its adjoint, applied through the FFT on a torus.

#include <lipschitz/kernel_spectrum.hpp>

#include <cstdint>
#include <memory>
#include <vector>

namespace lipschitz {

/// Applies the forward convolution `T` of a KernelSpectrum's geometry (zero padding `p`,
/// stride, dilation, groups; PyTorch's cross-correlation) and its adjoint `Tᵀ`, exactly, by
/// embedding the input in the spectrum's torus (ALGORITHMS.md §4: `T = P · S_N · C_N · E`).
///
/// Requires a torus that holds the padded input without wrap-around: `N ≥ n + p` and
/// `N ≥ (m − 1)s + k_eff` per dimension (see `minimal_torus()`); circular layers use their own
/// input size with `p = 0`. Owns FFTW plans and buffers: move-only, one thread at a time
/// (it parallelises the per-frequency products internally).
template <class T>
class ConvOperator {
 public:
  /// \param spectrum kept by reference: it must outlive the operator
  /// \param threads  threads for the per-frequency products; 0: all cores
  explicit ConvOperator(const KernelSpectrum<T>& spectrum, int threads = 0);
  ~ConvOperator();
  ConvOperator(ConvOperator&&) noexcept;
  ConvOperator& operator=(ConvOperator&&) noexcept;
  ConvOperator(const ConvOperator&) = delete;
  ConvOperator& operator=(const ConvOperator&) = delete;

  /// c_in · n₁ · n₂
  Index input_size() const;
  /// c_out · m₁ · m₂
  Index output_size() const;
  /// y = T x; x is `(c_in, n₁, n₂)` row-major, y is `(c_out, m₁, m₂)`.
  void apply(const T* x, T* y);
  /// x = Tᵀ y.
  void apply_adjoint(const T* y, T* x);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// Smallest torus, per dimension a multiple of the stride, on which the zero-padded forward
/// convolution `conv` is a selection of the circular one (ALGORITHMS.md §4).
Extent minimal_torus(const ForwardConv& conv);

extern template class ConvOperator<float>;
extern template class ConvOperator<double>;

}  // namespace lipschitz

namespace lipschitz {

/// The same operator as ConvOperator, applied in the spatial domain: per group, an im2col
/// gather and one matrix product with the `(c_out/g) × (c_in/g · k₁k₂)` weight (and the
/// transposed product and a scatter for the adjoint). `O(c_out c_in/g k₁k₂ m₁m₂)` per
/// application at matrix-product speed: for small kernels faster than the per-frequency
/// matrix-vector products of ConvOperator, which are bound by memory bandwidth. Zero padding
/// and circular layers (indices wrap modulo the input size). Keeps a copy of the weight and,
/// per tap and output pixel, the input pixel it reads (4 bytes each).
template <class T>
class SpatialConvOperator {
 public:
  /// \param weight forward-convolution weight `(c_out, c_in/g, k₁, k₂)`, row-major
  /// \param threads threads for the products (output pixels are split); 0: all cores
  SpatialConvOperator(const T* weight, const ForwardConv& conv, int threads = 0);
  Index input_size() const { return conv_.in_channels * conv_.input[0] * conv_.input[1]; }
  Index output_size() const { return conv_.out_channels * conv_.output[0] * conv_.output[1]; }
  /// y = T x; x is `(c_in, n₁, n₂)` row-major, y is `(c_out, m₁, m₂)`.
  void apply(const T* x, T* y);
  /// x = Tᵀ y.
  void apply_adjoint(const T* y, T* x);

 private:
  /// Input index read by output pixel `j` through tap `t` along axis `a`, or −1 (padding).
  Index source(int a, Index j, Index t) const;
  /// Calls `visit(im2col offset, input offset or −1)` for every entry of group `g`'s im2col
  /// chunk of output pixels [p0, p0 + count): the gather of apply() and the scatter of
  /// apply_adjoint() walk the same indices.
  template <class Visit>
  void for_each_tap(Index g, Index p0, Index count, Visit&& visit) const;
  ForwardConv conv_;
  int threads_ = 1;
  Index in_g_ = 0, out_g_ = 0, rows_ = 0, pixels_ = 0, chunk_ = 0, chunks_ = 0;
  std::vector<T> weight_;                // (c_out, c_in/g · k₁k₂) row-major
  // [tap][output pixel]: the input pixel (row-major within a channel) that the tap reads, or
  // −1 for padding; the same for every channel, so computed once rather than per entry.
  std::vector<std::int32_t> tap_source_;
  std::vector<std::vector<T>> columns_;  // per thread: im2col chunk, rows_ × chunk_
  std::vector<std::vector<T>> partial_;  // per thread: the adjoint's partial sums over x
};

extern template class SpatialConvOperator<float>;
extern template class SpatialConvOperator<double>;

}  // namespace lipschitz
