// Tests conv_norm.hpp: every bound holds against the dense SVD, in float and double, on every
// path (circular exact, dense, torus bound + Lanczos); errors.
#include <doctest/doctest.h>
#include <lipschitz/circular_spectrum.hpp>
#include <lipschitz/conv_norm.hpp>
#include <lipschitz/conv_operator.hpp>
#include <lipschitz/kernel_spectrum.hpp>

#include "dense_reference.hpp"
#include "tolerances.hpp"

#include <Eigen/SVD>

#include <cmath>
#include <random>
#include <tuple>
#include <type_traits>

using namespace lipschitz;
using namespace lipschitz::test;

namespace {
template <class T>
ConvNormResult run(const ConvSpec& spec, const std::vector<double>& w, ConvNormOptions o) {
  const std::vector<T> wt(w.begin(), w.end());
  return analyze_conv(spec, wt.data(), o);
}
}  // namespace

TEST_CASE("zero padding: the interval always contains the truth, exact when dense") {
  std::mt19937_64 rng(1967);
  int below_circular = 0;
  for (int trial = 0; trial < 80; ++trial) {
    const ConvSpec spec = random_spec(rng, PaddingMode::zeros);
    const auto w = random_weight(spec, rng);
    const double truth = dense_singular_values(spec, w).front();
    // Absolute floor for layers whose operator is zero (every tap lands in the padding).
    const double w_norm = Eigen::Map<const Eigen::VectorXd>(w.data(), Index(w.size())).norm();
    CAPTURE(trial);
    CAPTURE(truth);
    ConvNormOptions bound_only;
    bound_only.dense_limit = 0;  // force the torus bound + Lanczos path
    for (int precision = 0; precision < 2; ++precision) {
      CAPTURE(precision);
      const double slack = precision == 0 ? kReferenceSlack : 0.0;
      const ConvNormResult b =
          precision == 0 ? run<double>(spec, w, bound_only) : run<float>(spec, w, bound_only);
      CHECK(b.method == ConvMethod::torus_bound);
      CHECK(b.lower_bound <= truth * (1 + slack));
      CHECK(b.upper_bound >= truth * (1 - slack));
      CHECK(b.spectral_norm >= b.lower_bound);
      CHECK(b.spectral_norm <= b.upper_bound);
      const ConvNormResult d = precision == 0 ? run<double>(spec, w, {}) : run<float>(spec, w, {});
      CHECK(d.method == ConvMethod::dense_svd);
      // Exact means the interval is within the tolerance: always in double; in float only
      // where the worst-case rounding margin allows.
      if (precision == 0) CHECK(d.exact);
      if (d.upper_bound - d.lower_bound > 1e-6 * d.upper_bound + 1e-3 * w_norm)
        CHECK_FALSE(d.exact);
      CHECK(d.lower_bound <= truth * (1 + slack));
      CHECK(d.upper_bound >= truth * (1 - slack));
      CHECK(rel_err(d.spectral_norm, truth, (precision == 0 ? 1e-9 : kFloatGramTol) * w_norm) <
            (precision == 0 ? kDoubleTol : kFloatTol));
    }
    // ALGORITHMS.md §4: the circular value at the layer's own size is not a bound. Count how
    // often it falls below the truth, to show the test can see the difference.
    if (!spec.transposed && spec.input[0] % spec.stride[0] == 0 &&
        spec.input[1] % spec.stride[1] == 0) {
      ConvSpec c = spec;
      c.padding_mode = PaddingMode::circular;
      if (run<double>(c, w, {}).upper_bound < truth * (1 - 1e-9)) ++below_circular;
    }
  }
  MESSAGE("circular value at the layer's own size fell below the zero-padded truth in "
          << below_circular << " of 80 cases");
  // ALGORITHMS.md §4's warning holds on these seeded layers too: had it not, the check above
  // could not tell the torus bound from the tempting shortcut.
  CHECK(below_circular > 0);
}

TEST_CASE("circular layers: exact, with the full spectrum on request") {
  std::mt19937_64 rng(31337);
  for (int trial = 0; trial < 30; ++trial) {
    const ConvSpec spec = random_spec(rng, PaddingMode::circular);
    const auto w = random_weight(spec, rng);
    const auto want = dense_singular_values(spec, w);
    ConvNormOptions o;
    o.all_singular_values = true;
    const ConvNormResult r = run<double>(spec, w, o);
    CAPTURE(trial);
    CHECK(r.exact);
    CHECK(r.method == ConvMethod::circular_exact);
    CHECK(rel_err(r.spectral_norm, want.front()) < kDoubleTol);
    CHECK(r.lower_bound <= want.front() * (1 + kReferenceSlack));
    CHECK(r.upper_bound >= want.front() * (1 - kReferenceSlack));
    REQUIRE(r.singular_values.size() == want.size());
    CHECK(spectrum_error(r.singular_values, want) < kDoubleTol);
  }
}

namespace {
// The weight times 2^k in T (exact when no entry leaves the normal range, which the caller
// checks), and the result of analyze_conv on it.
template <class T>
ConvNormResult run_scaled(const ConvSpec& spec, const std::vector<T>& w, int k,
                          const ConvNormOptions& o) {
  std::vector<T> scaled(w.size());
  for (std::size_t i = 0; i < w.size(); ++i) scaled[i] = std::ldexp(w[i], k);
  return analyze_conv(spec, scaled.data(), o);
}

template <class T>
void check_scale_invariance(std::mt19937_64& rng, std::initializer_list<int> exponents) {
  for (int trial = 0; trial < 12; ++trial) {
    const PaddingMode mode = trial % 2 == 0 ? PaddingMode::circular : PaddingMode::zeros;
    const ConvSpec spec = random_spec(rng, mode);
    const auto wd = random_weight(spec, rng);
    const std::vector<T> w(wd.begin(), wd.end());
    ConvNormOptions o;
    o.threads = 1;  // the same schedule in both runs, so the same rounding
    o.all_singular_values = trial % 4 == 0;
    if (trial % 4 == 1) o.dense_limit = 0;  // zero padding: the torus bound + Lanczos path
    const ConvNormResult base = analyze_conv(spec, w.data(), o);
    const double truth = dense_singular_values(spec, std::vector<double>(w.begin(), w.end())).front();
    CAPTURE(trial);
    CHECK(base.lower_bound <= truth * (1 + kReferenceSlack));
    CHECK(base.upper_bound >= truth * (1 - kReferenceSlack));
    for (int k : exponents) {
      CAPTURE(k);
      bool representable = true;
      for (T v : w) representable &= v == 0 || std::isnormal(std::ldexp(v, k));
      if (!representable) continue;
      const ConvNormResult r = run_scaled(spec, w, k, o);
      // Bitwise: the analysis runs on the same normalised weight, and 2^k is exact.
      CHECK(r.lower_bound == std::ldexp(base.lower_bound, k));
      CHECK(r.upper_bound == std::ldexp(base.upper_bound, k));
      CHECK(r.spectral_norm == std::ldexp(base.spectral_norm, k));
      REQUIRE(r.singular_values.size() == base.singular_values.size());
      for (std::size_t i = 0; i < r.singular_values.size(); ++i)
        CHECK(r.singular_values[i] == std::ldexp(base.singular_values[i], k));
    }
  }
}
}  // namespace

// Every solver squares the operator: without the normalisation in analyze_conv, weights at
// 1e±150 (double) or 1e±19 (float) overflowed or underflowed there and gave "upper bounds"
// far below the truth (a 64-channel 5×5 layer at scale 1e-150: upper 1.9e-162, truth 1.6e-150).
TEST_CASE("any weight scale: the bounds scale with the weight and still hold") {
  std::mt19937_64 rng(2024);
  check_scale_invariance<double>(rng, {-1000, -600, 600, 1000});
  check_scale_invariance<float>(rng, {-110, -70, 70, 110});
}

// Found by a stress test of the CLI after the normalisation above: results that leave the
// double range when scaled back, and --precision float on double weights outside float's range.
TEST_CASE("bounds outside the normal range are rounded outwards; float precision on any double weight") {
  std::mt19937_64 rng(77);
  for (const PaddingMode mode : {PaddingMode::zeros, PaddingMode::circular}) {
    const ConvSpec spec = square_conv2d(4, 3, 3, 6, mode);
    const auto w = random_weight(spec, rng);
    const double truth = dense_singular_values(spec, w).front();
    CAPTURE(mode == PaddingMode::circular);
    // σ₁ around 1e-315 and 1e-321 (subnormal): lower ≤ truth ≤ upper after exact rescaling,
    // and "exact" only while the interval is within the tolerance.
    for (const int k : {-1045, -1065}) {
      CAPTURE(k);
      // The weights are subnormal themselves and so rounded: the truth is that of the rounded
      // weights, scaled back up (exactly) for the reference.
      std::vector<double> tiny(w.size()), back(w.size());
      for (std::size_t i = 0; i < w.size(); ++i) {
        tiny[i] = std::ldexp(w[i], k);
        back[i] = std::ldexp(tiny[i], -k);
      }
      const double truth_k = dense_singular_values(spec, back).front();
      const ConvNormResult r = analyze_conv(spec, tiny.data());
      CHECK(std::ldexp(r.lower_bound, -k) <= truth_k * (1 + kReferenceSlack));
      CHECK(std::ldexp(r.upper_bound, -k) >= truth_k * (1 - kReferenceSlack));
      if (r.exact) CHECK(r.upper_bound - r.lower_bound <= 1e-6 * r.upper_bound);
    }
    // σ₁ beyond the largest double: the lower bound is that largest double, not +∞.
    std::vector<double> huge(w.size());
    for (std::size_t i = 0; i < w.size(); ++i) huge[i] = std::ldexp(w[i], 1022);
    const ConvNormResult big = analyze_conv(spec, huge.data());
    if (std::ldexp(truth, 1022) > std::numeric_limits<double>::max()) {
      CHECK(big.lower_bound == std::numeric_limits<double>::max());
      CHECK(std::isinf(big.upper_bound));
      CHECK_FALSE(big.exact);
    }
    // Float precision on double weights far outside float's range (and in its subnormal range):
    // analysed, neither refused as infinite nor flushed to zero.
    for (const int k : {-500, -150, 140, 500}) {
      CAPTURE(k);
      std::vector<double> scaled(w.size());
      for (std::size_t i = 0; i < w.size(); ++i) scaled[i] = std::ldexp(w[i], k);
      const ConvNormResult r = analyze_conv_in<float>(spec, scaled.data());
      CHECK(std::ldexp(r.lower_bound, -k) <= truth * (1 + 1e-6));
      CHECK(std::ldexp(r.upper_bound, -k) >= truth * (1 - 1e-6));
      CHECK(std::ldexp(r.lower_bound, -k) > 0.9 * truth);
    }
  }
}

TEST_CASE("blocks above 96: the blocked Cholesky test and panel Gram matrices, against the dense SVD") {
  std::mt19937_64 rng(4242);
  // 128 channels on a 2 × 2 torus (blocks of 128, Gram matrices by panels, blocked Cholesky),
  // and 100 → 130 with stride 2 on 4 × 4 (wide blocks 130 × 400, the panel remainder 130 = 4·32 + 2).
  ConvSpec a = square_conv2d(128, 128, 3, 2, PaddingMode::circular);
  ConvSpec b = square_conv2d(130, 100, 3, 4, PaddingMode::circular);
  b.stride = {2, 2};
  for (const ConvSpec& spec : {a, b}) {
    const auto w = random_weight(spec, rng);
    const auto want = dense_singular_values(spec, w);
    ConvNormOptions o;
    const ConvNormResult r = run<double>(spec, w, o);
    CHECK(r.exact);
    CHECK(r.lower_bound <= want.front() * (1 + kReferenceSlack));
    CHECK(r.upper_bound >= want.front() * (1 - kReferenceSlack));
    CHECK(r.circular.settled + r.circular.pruned > 0);  // some block went through the test
    o.all_singular_values = true;
    const ConvNormResult all = run<double>(spec, w, o);
    REQUIRE(all.singular_values.size() == want.size());
    CHECK(spectrum_error(all.singular_values, want) < kDoubleTol);
  }
}

TEST_CASE("the public solvers on an overflowing spectrum: no finite bound below the truth") {
  // analyze_conv normalises the scale; called directly on float weights of ~1e19, the Gram
  // matrices overflow. The σ₁ search may then give up (+∞) but must not certify a small bound,
  // and the full spectrum must refuse rather than sort NaNs.
  std::mt19937_64 rng(99);
  const ConvSpec spec = square_conv2d(6, 5, 3, 4, PaddingMode::circular);
  const auto w = random_weight(spec, rng);
  const double truth = dense_singular_values(spec, w).front();
  std::vector<float> big(w.size());
  for (std::size_t i = 0; i < w.size(); ++i) big[i] = float(std::ldexp(w[i], 64));
  const ForwardConv conv = forward_conv(spec);
  const KernelSpectrum<float> spectrum(big.data(), conv, conv.input);
  const NormBounds nb = circular_norm_bounds(spectrum);
  CHECK(nb.upper >= std::ldexp(truth, 64) * (1 - 1e-5));
  CHECK_THROWS_AS(circular_singular_values(spectrum), std::runtime_error);
}

TEST_CASE("large kernels: the FFT transform of the kernel (> 64 taps)") {
  std::mt19937_64 rng(81);
  for (int trial = 0; trial < 8; ++trial) {
    ConvSpec s;
    s.weight_dim0 = 2;
    s.weight_dim1 = 1 + trial % 2;
    s.kernel = {9, 9};
    s.input = {6 + trial % 3, 7};
    s.padding = {4, 4};
    s.padding_mode = trial < 4 ? PaddingMode::circular : PaddingMode::zeros;
    s.dilation = {s.padding_mode == PaddingMode::circular ? 1 + trial % 2 : 1,
                  1};  // k_eff 17 wraps
    validate(s);
    const auto w = random_weight(s, rng);
    const auto want = dense_singular_values(s, w);
    CAPTURE(trial);
    ConvNormOptions o;
    o.all_singular_values = true;
    o.dense_limit = 0;  // zero padding: torus bound + Lanczos
    const ConvNormResult r = run<double>(s, w, o);
    CHECK(r.lower_bound <= want.front() * (1 + kReferenceSlack));
    CHECK(r.upper_bound >= want.front() * (1 - kReferenceSlack));
    if (s.padding_mode == PaddingMode::circular) {
      REQUIRE(r.singular_values.size() == want.size());
      CHECK(spectrum_error(r.singular_values, want) < kDoubleTol);
    }
  }
}

TEST_CASE("zero padding on a larger layer: a narrow certified interval") {
  std::mt19937_64 rng(64);
  ConvSpec s = square_conv2d(8, 6, 3, 16);
  s.padding = {1, 1};
  const auto w = random_weight(s, rng);
  const double truth = dense_sigma1(s, w);  // 1536 x 2048 dense operator
  ConvNormOptions o;
  o.dense_limit = 0;
  const ConvNormResult r = run<double>(s, w, o);
  CHECK(r.lower_bound <= truth * (1 + kReferenceSlack));
  CHECK(r.upper_bound >= truth * (1 - kReferenceSlack));
  INFO("interval " << r.lower_bound << " .. " << r.upper_bound << " truth " << truth);
  CHECK((r.upper_bound - r.lower_bound) / truth < 0.05);
}

TEST_CASE("stored and on-demand spectra give the same bounds and spectrum; memory limit") {
  std::mt19937_64 rng(2048);
  for (const Index stride : {1, 2, 3}) {
    ConvSpec s = square_conv2d(8, 6, 3, 8, PaddingMode::circular);
    s.stride = {stride, stride};
    if (stride == 3) {  // groups, and a torus the stride divides
      s.groups = 2;
      s.input = {12, 12};
    }
    const auto w = random_weight(s, rng);
    const ForwardConv conv = forward_conv(s);
    const Extent torus = minimal_torus(conv);
    const KernelSpectrum<double> stored(w.data(), conv, torus, 2, SpectrumStorage::stored);
    const KernelSpectrum<double> lazy(w.data(), conv, torus, 2, SpectrumStorage::on_demand);
    CAPTURE(stride);
    // Several runs of frequencies on demand, so prefetching is exercised.
    CHECK(lazy.prefetch_count(1) > 1);
    CHECK(lazy.prefetch_count(1) < lazy.frequency_count());
    NormOptions o;
    o.threads = 2;
    const NormBounds a = circular_norm_bounds(stored, o), b = circular_norm_bounds(lazy, o);
    CHECK(std::abs(a.lower - b.lower) <= 1e-12 * a.upper);
    CHECK(std::abs(a.upper - b.upper) <= 1e-12 * a.upper);
    SpectrumOptions so;
    so.threads = 2;
    const auto va = circular_singular_values(stored, so), vb = circular_singular_values(lazy, so);
    REQUIRE(va.size() == vb.size());
    CHECK(spectrum_error(vb, va) <= 1e-12);
    CHECK(spectrum_error(va, dense_singular_values(s, w)) < kDoubleTol);
  }
  // analyze_conv falls back to blocks on demand: a limit that the stored matrices (557 kB)
  // would exceed is enough, one that the weight and a run of blocks exceed is not.
  const ConvSpec s = square_conv2d(8, 8, 3, 32, PaddingMode::circular);
  const auto w = random_weight(s, rng);
  const ForwardConv conv = forward_conv(s);
  const KernelSpectrum<double> stored(w.data(), conv, minimal_torus(conv), 2);
  const NormBounds want = circular_norm_bounds(stored);
  ConvNormOptions tight;
  tight.max_memory_bytes = 300e3;
  for (const bool all : {false, true}) {
    tight.all_singular_values = all;
    const ConvNormResult r = analyze_conv(s, w.data(), tight);
    CAPTURE(all);
    CHECK(r.exact);
    CHECK(r.lower_bound <= want.upper);
    CHECK(r.upper_bound >= want.lower);
    CHECK(std::abs(r.spectral_norm - want.lower) <= 2e-6 * want.upper);
  }
  tight.max_memory_bytes = 1e3;  // not even that
  CHECK_THROWS_AS(analyze_conv(s, w.data(), tight), ResourceError);
}

TEST_CASE("errors: non-finite weights, memory, invalid layers") {
  const ConvSpec s = square_conv2d(2, 2, 3, 8);
  std::vector<double> w(36, 0.5);
  w[7] = std::nan("");
  CHECK_THROWS_WITH_AS(analyze_conv(s, w.data()), "weight entry 7 is not finite (nan)",
                       std::invalid_argument);
  w[7] = HUGE_VAL;
  CHECK_THROWS_WITH_AS(analyze_conv(s, w.data()), "weight entry 7 is not finite (inf)",
                       std::invalid_argument);
  w[7] = 0.5;
  ConvSpec huge = s;
  huge.input = {1 << 20, 1 << 20};
  CHECK_THROWS_AS(analyze_conv(huge, w.data()), ResourceError);
  ConvNormOptions tight;
  tight.max_memory_bytes = 1000;
  CHECK_THROWS_AS(analyze_conv(s, w.data(), tight), ResourceError);
  // A small layer fits in a modest limit: the estimate counts what is used, not a fixed slab.
  ConvNormOptions modest;
  modest.max_memory_bytes = 64.0 * (1 << 20);
  CHECK_NOTHROW(analyze_conv(s, w.data(), modest));
  ConvSpec bad = s;
  bad.groups = 3;
  CHECK_THROWS_AS(analyze_conv(bad, w.data()), std::invalid_argument);
}

TEST_CASE("reshaped weight norm is what spectral_norm would report, and not a bound") {
  // 1x2x1x2 weight [[3, 4]]: reshaped norm 5 (a single row).
  ConvSpec s;
  s.weight_dim0 = 1;
  s.weight_dim1 = 2;
  s.kernel = {1, 2};
  s.input = {4, 4};
  std::vector<double> w{3, 0, 0, 4};
  CHECK(reshaped_weight_norm(s, w.data()) == doctest::Approx(5.0));
  // Transposed: rows are dim 1 → two rows [3, 0] and [0, 4] → norm 4.
  s.transposed = true;
  CHECK(reshaped_weight_norm(s, w.data()) == doctest::Approx(4.0));
}

TEST_CASE_TEMPLATE("a Linear layer (one frequency) is solved, not searched to the tolerance", T,
                   float, double) {
  // y = W x as the trainer and the report model it: a 1-tap circular 1-D conv on one pixel.
  ConvSpec s;
  s.spatial_dims = 1;
  s.weight_dim0 = 96;
  s.weight_dim1 = 128;
  s.padding_mode = PaddingMode::circular;
  std::mt19937_64 rng(17);
  const auto w = random_weight(s, rng);
  Eigen::MatrixXd m(96, 128);
  for (Index i = 0; i < 96; ++i)
    for (Index j = 0; j < 128; ++j) m(i, j) = double(T(w[std::size_t(i * 128 + j)]));
  const double sigma = Eigen::JacobiSVD<Eigen::MatrixXd>(m).singularValues()(0);
  ConvNormOptions o;
  o.tolerance = 1e-4;  // the trainer's default: the search would stop at a 1e-4 interval
  const ConvNormResult r = run<T>(s, w, o);
  CHECK(r.method == ConvMethod::circular_exact);
  CHECK(r.circular.resolved == 1);  // the one block solved
  CHECK(r.lower_bound <= sigma * (1 + kReferenceSlack));
  CHECK(r.upper_bound >= sigma * (1 - kReferenceSlack));
  CHECK(r.singular_values.empty());  // not asked for
  if constexpr (std::is_same_v<T, double>) {
    CHECK(r.exact);
    CHECK(r.upper_bound - r.lower_bound <= kDoubleTol * 1e-3 * sigma);  // rounding only
  }
  // With the dense path off, the certified search runs instead; its interval holds too.
  o.dense_limit = 0;
  const ConvNormResult searched = run<T>(s, w, o);
  CHECK(searched.lower_bound <= sigma * (1 + kReferenceSlack));
  CHECK(searched.upper_bound >= sigma * (1 - kReferenceSlack));
}

TEST_CASE_TEMPLATE("reshaped weight norm equals the SVD of the reshaped weight", T, float, double) {
  // Both sides of the Gram path (more columns than rows and the reverse), plain and transposed,
  // against Eigen's JacobiSVD of the matrix built here from PyTorch's reshape.
  // The value is computed in double from the T inputs, so double's slack holds for both.
  const double tol = kReferenceSlack;
  std::mt19937_64 rng(7);
  std::normal_distribution<double> normal(0.0, 1e-3);
  for (const auto& [d0, d1, k] : {std::tuple{6, 5, 3}, std::tuple{40, 3, 1}, std::tuple{3, 40, 2}})
    for (bool transposed : {false, true}) {
      ConvSpec s;
      s.weight_dim0 = d0;
      s.weight_dim1 = d1;
      s.kernel = {k, k};
      s.input = {8, 8};
      s.transposed = transposed;
      std::vector<T> w(std::size_t(d0 * d1 * k * k));
      for (auto& v : w) v = T(normal(rng));
      const Index rows = transposed ? d1 : d0, cols = Index(w.size()) / rows;
      Eigen::MatrixXd m(rows, cols);
      for (Index a = 0; a < d0; ++a)
        for (Index b = 0; b < d1; ++b)
          for (Index t = 0; t < k * k; ++t) {
            const double v = w[std::size_t((a * d1 + b) * k * k + t)];
            if (transposed)
              m(b, a * k * k + t) = v;
            else
              m(a, b * k * k + t) = v;
          }
      const double sigma = Eigen::JacobiSVD<Eigen::MatrixXd>(m).singularValues()(0);
      CAPTURE(d0);
      CAPTURE(transposed);
      CHECK(reshaped_weight_norm(s, w.data()) == doctest::Approx(sigma).epsilon(tol));
    }
}

TEST_CASE("reshaped weight norm of a reshape too large for its Gram matrix (Lanczos on W)") {
  // 2050 × 2050 (a 1 × 1 convolution): above the Gram path's 2048 limit. W = I with one entry 5:
  // σ₁ = 5 exactly.
  ConvSpec s;
  s.weight_dim0 = s.weight_dim1 = 2050;
  s.kernel = {1, 1};
  s.input = {2, 2};
  std::vector<double> w(std::size_t(2050) * 2050, 0.0);
  for (std::size_t i = 0; i < 2050; ++i) w[i * 2050 + i] = 1.0;
  w[7 * 2050 + 7] = 5.0;
  CHECK(reshaped_weight_norm(s, w.data()) == doctest::Approx(5.0).epsilon(kReferenceSlack));
}

TEST_CASE("a spectrum above max_stored_spectrum_bytes is computed on demand, with the same bounds") {
  std::mt19937_64 rng(31);
  for (const PaddingMode mode : {PaddingMode::circular, PaddingMode::zeros}) {
    const ConvSpec spec = square_conv2d(8, 4, 3, 8, mode);
    const std::vector<double> w = random_weight(spec, rng);
    const double truth = dense_sigma1(spec, w);
    ConvNormOptions o;
    o.dense_limit = 0;  // zero padding through the torus bound and Lanczos, not the dense SVD
    o.gram_source = GramSource::blocks;  // the blocks' storage is what is tested
    const ConvNormResult stored = analyze_conv(spec, w.data(), o);
    CHECK_FALSE(stored.spectrum_on_demand);
    o.max_stored_spectrum_bytes = 1024;  // this layer's spectrum takes 20–30 KB
    const ConvNormResult on_demand = analyze_conv(spec, w.data(), o);
    CHECK(on_demand.spectrum_on_demand);
    for (const ConvNormResult& r : {stored, on_demand}) {
      CHECK(r.lower_bound <= truth * (1 + kReferenceSlack));
      CHECK(r.upper_bound >= truth * (1 - kReferenceSlack));
    }
    CHECK(on_demand.upper_bound == doctest::Approx(stored.upper_bound).epsilon(2e-6));
    CHECK(on_demand.lower_bound == doctest::Approx(stored.lower_bound).epsilon(2e-6));
  }
}
