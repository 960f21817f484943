#pragma once
/// \file conv_norm.hpp
/// The spectral norm (and spectrum) of a convolution layer: the library's main entry point.

#include <lipschitz/circular_spectrum.hpp>
#include <lipschitz/conv_spec.hpp>
#include <lipschitz/lanczos.hpp>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace lipschitz {

/// How analyze_conv() reached its answer.
enum class ConvMethod {
  circular_exact,  ///< circular padding: per-frequency blocks on the input's torus (exact)
  dense_svd,       ///< zero padding, small operator: the dense matrix and its SVD (exact)
  torus_bound      ///< zero padding: certified torus upper bound + Lanczos lower bound (interval)
};
/// "circular-exact", "dense-svd" or "torus-bound+lanczos".
std::string to_string(ConvMethod method);

/// Where the σ₁ search on the torus gets each frequency block's Gram matrix from.
enum class GramSource {
  automatic,  ///< taps where a cost model estimates them cheaper (TapGram::preferred)
  blocks,     ///< from the blocks B(ν) of a KernelSpectrum, one product each
  taps  ///< from products of kernel taps (TapGram), the blocks never formed; double only
};
/// "auto", "blocks" or "taps".
std::string to_string(GramSource source);
/// Parses "auto", "blocks" or "taps"; throws std::invalid_argument otherwise.
GramSource gram_source_from_string(const std::string& text);

/// A layer whose analysis would need more memory than allowed.
class ResourceError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Options for analyze_conv().
struct ConvNormOptions {
  /// Target relative width (upper − lower)/upper of the σ₁ interval. Reached exactly for
  /// circular layers (down to the rounding margin); for zero padding the width is what the
  /// torus bound and the Lanczos lower bound leave, often wider.
  double tolerance = 1e-6;
  /// Also return every singular value (circular layers and dense-solved zero-padded ones).
  bool all_singular_values = false;
  BlockSolver solver = BlockSolver::gram_eigen;  ///< per-block solver for the full spectrum
  int threads = 0;                               ///< worker threads; 0: all cores
  /// Gram iterations per frequency block in the σ₁ search before the Cholesky test
  /// (NormOptions::gram_steps).
  int gram_steps = 0;
  int lanczos_steps = 64;  ///< Krylov dimension for the zero-padding lower bound
  /// Layers whose operator has at most dense_limit² entries, and at most dense_limit rows or
  /// columns on its smaller side, are solved exactly whatever the tolerance: zero-padded ones as
  /// a dense matrix, circular ones with a single frequency (Linear layers) by their block's SVD.
  /// 0 disables this.
  Index dense_limit = 1024;
  /// Refuse layers needing more than this many bytes (ResourceError); 0: ¾ of physical memory.
  double max_memory_bytes = 0;
  /// Keep every frequency's matrix in memory only up to this many bytes (and within
  /// max_memory_bytes); a larger spectrum is computed a run of frequencies at a time, when the
  /// solvers ask for it. Measured: a 64-channel 3×3 layer at 224 × 224 stores 1.6 GB, which
  /// takes 0.8 s or, when the kernel has to compact memory for it, 2.9 s; on demand it takes
  /// 0.85 s in 26 MB (bench/README.md).
  double max_stored_spectrum_bytes = double(std::int64_t(1) << 30);
  /// Where the σ₁ search takes the blocks' Gram matrices from. Taps apply in double precision
  /// to the search only (not with all_singular_values, nor when zero padding's lower bound
  /// runs the FFT operator, which reads the stored blocks; `taps` then uses the spatial one).
  GramSource gram_source = GramSource::automatic;
};

/// What analyze_conv() found. Norm values are in double whatever the compute precision.
struct ConvNormResult {
  double spectral_norm = 0;  ///< the best estimate of σ₁: exact value, or a point in the interval
  double lower_bound = 0;    ///< certified: σ₁ ≥ lower_bound
  double upper_bound = 0;    ///< certified: σ₁ ≤ upper_bound
  /// The certified interval is within the tolerance (relative; floored at 1e-9): always for
  /// circular and dense layers in double, rarely for zero padding at small sizes, and not for
  /// large layers in float, whose worst-case rounding margin is wider.
  bool exact = false;
  ConvMethod method = ConvMethod::circular_exact;
  Extent torus{0, 0};                   ///< torus the frequency analysis used (0 for dense)
  /// The frequency blocks were computed when asked rather than stored (a spectrum above
  /// max_stored_spectrum_bytes, or one that would not fit max_memory_bytes).
  bool spectrum_on_demand = false;
  /// The σ₁ search formed the Gram matrices from tap products (TapGram); no block was formed.
  bool gram_from_taps = false;
  std::vector<double> singular_values;  ///< every singular value, descending, if requested
  NormBounds circular;                  ///< diagnostics of the frequency-domain σ₁ search
  LanczosResult lanczos;                ///< diagnostics of the Lanczos lower bound (zero padding)
  double seconds = 0;                   ///< wall time of the analysis
};

/// The spectral norm of the convolution layer `spec` with the given weight (PyTorch layout,
/// see ConvSpec), in compute precision T (float or double).
///
/// - circular padding: exact, from the per-frequency blocks (Sedghi et al. 2019; ALGORITHMS.md
///   §1–3), every singular value with multiplicity if requested;
/// - zero padding / 'valid': the dense SVD when small, else a certified interval: the circular
///   layer on the smallest torus holding the padded input bounds it above (§4), Lanczos on the
///   true operator bounds it below.
///
/// Throws std::invalid_argument for an invalid spec or a non-finite weight, ResourceError when
/// the analysis would not fit in memory.
///
/// Example:
/// \code
///   ConvNormResult r = analyze_conv(spec, weights.data());
///   std::cout << r.lower_bound << " <= sigma_1 <= " << r.upper_bound;
/// \endcode
template <class T>
ConvNormResult analyze_conv(const ConvSpec& spec, const T* weight,
                            const ConvNormOptions& options = {});

/// analyze_conv() in precision T on a double weight (`analyze_conv_in<float>` for
/// `--precision float`): the weight is scaled by a power of two in double before it is rounded
/// to T, so a weight outside T's range (float: beyond 3.4e38, or below 1e-38 where float loses
/// digits) is analysed rather than refused as infinite or flushed to zero.
template <class T>
ConvNormResult analyze_conv_in(const ConvSpec& spec, const double* weight,
                               const ConvNormOptions& options = {});

/// σ₁ of the weight reshaped to a matrix as `torch.nn.utils.spectral_norm` does (and Miyato et
/// al. 2018): `weight_dim0 × (rest)` for convolutions, `weight_dim1 × (rest)` for transposed
/// ones (PyTorch uses dim = 1 there). Not a bound on the layer's norm (ALGORITHMS.md §5); shown
/// for contrast. `threads` as ConvNormOptions::threads (0: every core).
template <class T>
double reshaped_weight_norm(const ConvSpec& spec, const T* weight, int threads = 0);

}  // namespace lipschitz
