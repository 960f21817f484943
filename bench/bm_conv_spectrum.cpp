// Google Benchmark for the engine on real layer shapes (circular padding at the layer's input
// size): the full spectrum and the certified σ₁, each with the number of threads named.
// The side-by-side comparison with PyTorch is bench/compare.py.
#include <lipschitz/conv_norm.hpp>

#include <benchmark/benchmark.h>

#include <random>
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

void run(benchmark::State& state, const Layer& layer, bool all) {
  const auto spec = spec_of(layer);
  const auto w = weights(spec);
  lipschitz::ConvNormOptions o;
  o.all_singular_values = all;
  o.threads = static_cast<int>(state.range(0));
  double sigma = 0;
  for (auto _ : state) {
    const auto r = lipschitz::analyze_conv(spec, w.data(), o);
    sigma = r.spectral_norm;
    benchmark::DoNotOptimize(sigma);
  }
  state.counters["sigma_1"] = sigma;
}

const int kRegistered = [] {
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
  }
  return 0;
}();

}  // namespace

BENCHMARK_MAIN();
