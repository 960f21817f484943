// Google Benchmark for the engine on real layer shapes (circular padding at the layer's input
// size): the full spectrum and the certified σ₁, each with the number of threads named.
//
// "lanczos operator" times one application and one adjoint of the zero-padded layer by each of
// the two operators the Lanczos lower bound can use (FFT on the minimal torus, or spatial
// im2col + matrix product), on the shapes analyze_conv's cost model was fitted to.
//
// "gram floor" times only the Gram matrix BᴴB of every frequency block (the smaller side, its
// lower triangle, real for self-conjugate frequencies), on a spectrum computed beforehand: the
// least any certificate that factors or eigen-solves each block's Gram matrix must spend, next
// to which the certified σ₁ time can be read (bench/README.md, "Latest").
//
// With `--weight=W.npy --input=N [--stride=S] [--threads=T]` it times that one layer instead
// (circular padding, the CLI's defaults; full spectrum, certified σ₁, gram floor), one call per
// repetition after an untimed warm-up call: how bench/compare.py times the engine in one
// process, as the PyTorch reference is timed.
#include <lipschitz/conv_norm.hpp>
#include <lipschitz/conv_operator.hpp>
#include <lipschitz/conv_spec.hpp>
#include <lipschitz/kernel_spectrum.hpp>
#include <lipschitz/npy.hpp>

#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

namespace {

struct Layer {
  const char* name;
  lipschitz::Index c_out, c_in, k, n, stride;
};

// Named after where they come from.
const Layer kLayers[] = {
    {"DCGAN64 critic 3->64 @64 4x4/2", 64, 3, 4, 64, 2},
    {"DCGAN64 critic 64->128 @32 4x4/2", 128, 64, 4, 32, 2},
    {"DCGAN64 critic 128->256 @16 4x4/2", 256, 128, 4, 16, 2},
    {"DCGAN64 critic 256->512 @8 4x4/2", 512, 256, 4, 8, 2},
    {"ResNet18 64 @56 3x3", 64, 64, 3, 56, 1},
    {"ResNet18 128 @28 3x3", 128, 128, 3, 28, 1},
    {"ResNet18 256 @14 3x3", 256, 256, 3, 14, 1},
    {"ResNet18 512 @7 3x3", 512, 512, 3, 7, 1},
    {"512x512 3x3 @4", 512, 512, 3, 4, 1},
    {"64x64 5x5 @12", 64, 64, 5, 12, 1},
};

lipschitz::ConvSpec spec_of(const Layer& l) {
  lipschitz::ConvSpec s;
  s.weight_dim0 = l.c_out;
  s.weight_dim1 = l.c_in;
  s.kernel = {l.k, l.k};
  s.input = {l.n, l.n};
  s.stride = {l.stride, l.stride};
  s.padding_mode = lipschitz::PaddingMode::circular;
  return s;
}

std::vector<double> weights(const lipschitz::ConvSpec& s) {
  std::mt19937_64 rng(2019);
  std::normal_distribution<double> normal(0.0, 0.02);
  std::vector<double> w(static_cast<std::size_t>(lipschitz::weight_size(s)));
  for (double& v : w) v = normal(rng);
  return w;
}

void run_spec(benchmark::State& state, const lipschitz::ConvSpec& spec, const std::vector<double>& w,
              bool all, bool warm_up) {
  lipschitz::ConvNormOptions o;
  o.all_singular_values = all;
  o.threads = static_cast<int>(state.range(0));
  double sigma = 0;
  if (warm_up) sigma = lipschitz::analyze_conv(spec, w.data(), o).spectral_norm;
  for (auto _ : state) {
    const auto r = lipschitz::analyze_conv(spec, w.data(), o);
    // Not benchmark::DoNotOptimize(sigma): with benchmark 1.7.1 and GCC 12 its "+m,r" asm
    // handed garbage to the counter below. The call cannot be optimised away anyway.
    sigma = r.spectral_norm;
  }
  state.counters["sigma_1"] = sigma;
}

struct ZeroPadded {
  const char* name;
  lipschitz::Index c_out, c_in_per_group, k, n, stride, groups;
};

// ResNet-18's 3×3 layers, DCGAN critic layers, larger kernels, a thin layer on a large input,
// depthwise layers.
const ZeroPadded kZeroPadded[] = {
    {"64 3x3 @56", 64, 64, 3, 56, 1, 1},        {"128 3x3 @28", 128, 128, 3, 28, 1, 1},
    {"256 3x3 @14", 256, 256, 3, 14, 1, 1},     {"512 3x3 @7", 512, 512, 3, 7, 1, 1},
    {"64->128 4x4/2 @32", 128, 64, 4, 32, 2, 1}, {"256->512 4x4/2 @8", 512, 256, 4, 8, 2, 1},
    {"256 5x5 @14", 256, 256, 5, 14, 1, 1},     {"128 7x7 @28", 128, 128, 7, 28, 1, 1},
    {"64 5x5 @56", 64, 64, 5, 56, 1, 1},        {"32 3x3 @128", 32, 32, 3, 128, 1, 1},
    {"64 depthwise 3x3 @56", 64, 1, 3, 56, 1, 64}, {"256 depthwise 3x3 @14", 256, 1, 3, 14, 1, 256},
};

template <class Op>
void apply_both(benchmark::State& state, Op& op) {
  std::vector<double> x(static_cast<std::size_t>(op.input_size())),
      y(static_cast<std::size_t>(op.output_size()));
  std::mt19937_64 rng(1);
  std::normal_distribution<double> normal;
  for (double& v : x) v = normal(rng);
  for (auto _ : state) {
    op.apply(x.data(), y.data());
    op.apply_adjoint(y.data(), x.data());
  }
}

void lanczos_operator(benchmark::State& state, const ZeroPadded& l, bool fft) {
  lipschitz::ConvSpec spec;
  spec.weight_dim0 = l.c_out;
  spec.weight_dim1 = l.c_in_per_group;
  spec.groups = l.groups;
  spec.kernel = {l.k, l.k};
  spec.input = {l.n, l.n};
  spec.stride = {l.stride, l.stride};
  spec.padding = {(l.k - 1) / 2, (l.k - 1) / 2};
  spec.padding_mode = lipschitz::PaddingMode::zeros;
  const auto w = weights(spec);
  const lipschitz::ForwardConv conv = lipschitz::forward_conv(spec);
  const int threads = static_cast<int>(state.range(0));
  if (fft) {
    const lipschitz::KernelSpectrum<double> spectrum(w.data(), conv, lipschitz::minimal_torus(conv),
                                                     threads);
    lipschitz::ConvOperator<double> op(spectrum, threads);
    apply_both(state, op);
  } else {
    lipschitz::SpatialConvOperator<double> op(w.data(), conv, threads);
    apply_both(state, op);
  }
}

/// The lower triangle of the Gram matrix of the smaller side of b.
template <class M, class G>
void gram_of(const M& b, G& g) {
  if (b.cols() <= b.rows())
    g.template triangularView<Eigen::Lower>() = b.adjoint() * b;
  else
    g.template triangularView<Eigen::Lower>() = b * b.adjoint();
}

void gram_floor(benchmark::State& state, const lipschitz::ConvSpec& spec,
                const std::vector<double>& w, bool warm_up) {
  using Spectrum = lipschitz::KernelSpectrum<double>;
  const lipschitz::ForwardConv conv = lipschitz::forward_conv(spec);
  const Spectrum spectrum(w.data(), conv, spec.input, 2);
  const int threads = static_cast<int>(state.range(0));
  const lipschitz::Index groups = conv.groups, jobs = spectrum.frequency_count() * groups;
  const lipschitz::Index d = std::min(spectrum.block_rows(), spectrum.block_cols());
  const auto all_grams = [&] {
#pragma omp parallel num_threads(threads)
    {
      Spectrum::Matrix b;
      Spectrum::RealMatrix r;
      Eigen::MatrixXcd g(d, d);
      Eigen::MatrixXd h(d, d);
#pragma omp for schedule(dynamic)
      for (lipschitz::Index job = 0; job < jobs; ++job) {
        const lipschitz::Index f = job / groups, group = job % groups;
        if (spectrum.self_conjugate(f)) {
          spectrum.real_block(f, group, r);
          gram_of(r, h);
        } else {
          spectrum.block(f, group, b);
          gram_of(b, g);
        }
      }
      benchmark::DoNotOptimize(g.data());
      benchmark::DoNotOptimize(h.data());
    }
  };
  if (warm_up) all_grams();
  for (auto _ : state) all_grams();
}

void run(benchmark::State& state, const Layer& layer, bool all) {
  const auto spec = spec_of(layer);
  run_spec(state, spec, weights(spec), all, false);
}

/// Takes `--name=value` out of argv (what benchmark::Initialize left); empty when absent.
std::string take_flag(int& argc, char** argv, const std::string& name) {
  const std::string prefix = "--" + name + "=";
  for (int i = 1; i < argc; ++i) {
    if (std::string(argv[i]).rfind(prefix, 0) != 0) continue;
    std::string value = argv[i] + prefix.size();
    for (int j = i; j + 1 < argc; ++j) argv[j] = argv[j + 1];
    --argc;
    return value;
  }
  return {};
}

/// `--weight=...` given: registers the full spectrum and the certified σ₁ of that layer.
bool register_file_layer(int& argc, char** argv) {
  const std::string path = take_flag(argc, argv, "weight");
  const std::string input = take_flag(argc, argv, "input");
  const std::string stride = take_flag(argc, argv, "stride");
  const std::string threads = take_flag(argc, argv, "threads");
  if (path.empty()) return false;
  const lipschitz::NpyArray a = lipschitz::read_npy(path);
  if (a.shape.size() != 4 || input.empty())
    throw std::invalid_argument(path + ": expected a 4-D (c_out, c_in, k, k) weight and --input=N");
  lipschitz::ConvSpec spec;
  spec.weight_dim0 = a.shape[0];
  spec.weight_dim1 = a.shape[1];
  spec.kernel = {a.shape[2], a.shape[3]};
  const lipschitz::Index n = std::stoll(input), s = stride.empty() ? 1 : std::stoll(stride);
  spec.input = {n, n};
  spec.stride = {s, s};
  spec.padding_mode = lipschitz::PaddingMode::circular;
  const long long t = threads.empty() ? 2 : std::stoll(threads);
  for (const bool all : {true, false}) {
    benchmark::RegisterBenchmark(all ? "full spectrum" : "certified sigma_1",
                                 [spec, w = a.data, all](benchmark::State& st) {
                                   run_spec(st, spec, w, all, true);
                                 })
        ->Arg(t)
        ->ArgName("threads")
        ->Iterations(1)
        ->Unit(benchmark::kMillisecond)
        ->UseRealTime();
  }
  benchmark::RegisterBenchmark("gram floor", [spec, w = a.data](benchmark::State& st) {
    gram_floor(st, spec, w, true);
  })
      ->Arg(t)
      ->ArgName("threads")
      ->Iterations(1)
      ->Unit(benchmark::kMillisecond)
      ->UseRealTime();
  return true;
}

void register_layers() {
  for (const ZeroPadded& l : kZeroPadded)
    for (const bool fft : {true, false})
      benchmark::RegisterBenchmark(
          (std::string("lanczos operator/") + l.name + (fft ? "/fft" : "/spatial")).c_str(),
          [l, fft](benchmark::State& s) { lanczos_operator(s, l, fft); })
          ->Arg(2)
          ->ArgName("threads")
          ->Unit(benchmark::kMillisecond)
          ->UseRealTime();
  for (const Layer& l : kLayers) {
    benchmark::RegisterBenchmark((std::string("full spectrum/") + l.name).c_str(),
                                 [l](benchmark::State& s) { run(s, l, true); })
        ->Arg(2)
        ->ArgName("threads")
        ->Unit(benchmark::kMillisecond)
        ->UseRealTime();
    benchmark::RegisterBenchmark((std::string("certified sigma_1/") + l.name).c_str(),
                                 [l](benchmark::State& s) { run(s, l, false); })
        ->Arg(2)
        ->ArgName("threads")
        ->Unit(benchmark::kMillisecond)
        ->UseRealTime();
    benchmark::RegisterBenchmark((std::string("gram floor/") + l.name).c_str(),
                                 [l](benchmark::State& s) {
                                   const auto spec = spec_of(l);
                                   gram_floor(s, spec, weights(spec), false);
                                 })
        ->Arg(2)
        ->ArgName("threads")
        ->Unit(benchmark::kMillisecond)
        ->UseRealTime();
  }
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  try {
    if (!register_file_layer(argc, argv)) register_layers();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bm_conv_spectrum: %s\n", e.what());
    return 2;
  }
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
