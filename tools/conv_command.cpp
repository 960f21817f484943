#include "conv_command.hpp"

#include <lipschitz/conv_json.hpp>
#include <lipschitz/conv_norm.hpp>
#include <lipschitz/npy.hpp>

#include <boost/program_options.hpp>

#include <cmath>
#include <limits>
#include <cstdio>
#include <iostream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

namespace po = boost::program_options;

namespace lipschitz::tools {
namespace {

/// A usage error: wrong or missing flags. Exit code 2.
struct UsageError : std::invalid_argument {
  using std::invalid_argument::invalid_argument;
};

/// "N" or "AxB" into an Extent for the given dimensionality.
Extent parse_extent(const std::string& text, int spatial_dims, const std::string& flag, Index min) {
  std::vector<Index> parts;
  std::stringstream ss(text);
  std::string item;
  if (!text.empty() && text.back() == 'x')
    throw UsageError(flag + " must be N or HxW with non-negative integers, got '" + text + "'");
  while (std::getline(ss, item, 'x')) {
    if (item.empty() || item.find_first_not_of("0123456789") != std::string::npos ||
        item.size() > 9)
      throw UsageError(flag + " must be N or HxW with non-negative integers, got '" + text + "'");
    parts.push_back(std::stol(item));
  }
  if (parts.empty() || parts.size() > 2 || (spatial_dims == 1 && parts.size() == 2))
    throw UsageError(flag + " must be " + (spatial_dims == 1 ? "N" : "N or HxW") + " for a " +
                     std::to_string(spatial_dims) + "-D layer, got '" + text + "'");
  for (Index p : parts)
    if (p < min)
      throw UsageError(flag + " must be at least " + std::to_string(min) + ", got '" + text + "'");
  if (spatial_dims == 1) return {min == 0 ? 0 : 1, parts[0]};
  return parts.size() == 1 ? Extent{parts[0], parts[0]} : Extent{parts[0], parts[1]};
}

/// DCGAN critic layer 2 (64 → 128, 4×4, stride 2, padding 1) on 32×32 inputs, weights drawn
/// from N(0, 0.02²) as DCGAN initialises them, fixed seed.
NpyArray example_weight() {
  NpyArray w;
  w.shape = {128, 64, 4, 4};
  w.dtype = "float32";
  std::mt19937_64 rng(2019);
  std::normal_distribution<float> normal(0.0f, 0.02f);
  w.data.resize(128 * 64 * 16);
  for (double& v : w.data) v = normal(rng);
  return w;
}

void print_human(const ConvSpec& spec, const ConvNormResult& r, double reshaped,
                 const std::string& source, const ConvNormOptions& options) {
  const int nd = spec.spatial_dims;
  const Extent out = output_size(spec);
  const Extent ke = effective_kernel(spec);
  auto ext = [nd](const Extent& e) {
    return nd == 1 ? std::to_string(e[1]) : std::to_string(e[0]) + "x" + std::to_string(e[1]);
  };
  std::printf("%s%dd %lld -> %lld channels, kernel %s", spec.transposed ? "ConvTranspose" : "Conv",
              nd, static_cast<long long>(in_channels(spec)),
              static_cast<long long>(out_channels(spec)), ext(spec.kernel).c_str());
  if (ke != spec.kernel) std::printf(" (effective %s)", ext(ke).c_str());
  std::printf(", stride %s, dilation %s, groups %lld, ", ext(spec.stride).c_str(),
              ext(spec.dilation).c_str(), static_cast<long long>(spec.groups));
  if (spec.padding_mode == PaddingMode::circular)
    std::printf("circular padding\n");
  else
    std::printf("zero padding %s\n", ext(spec.padding).c_str());
  std::printf("weight %s; input %s -> output %s\n\n", source.c_str(),
              shape_string(in_channels(spec), spec.input, nd).c_str(),
              shape_string(out_channels(spec), out, nd).c_str());
  if (r.exact && r.method != ConvMethod::torus_bound)
    std::printf("spectral norm (sigma_1)   %.9g   exact\n", r.spectral_norm);
  else
    std::printf("spectral norm (sigma_1)   %.9g   %s\n", r.spectral_norm,
                r.exact ? "certified to the tolerance" : "best estimate");
  std::printf("certified interval        [%.9g, %.9g]   relative width %.2e\n", r.lower_bound,
              r.upper_bound,
              !std::isfinite(r.upper_bound) ? std::numeric_limits<double>::infinity()
              : r.upper_bound > 0           ? (r.upper_bound - r.lower_bound) / r.upper_bound
                                            : 0.0);
  std::printf("method                    %s", to_string(r.method).c_str());
  if (r.method != ConvMethod::dense_svd)
    std::printf(" (%s torus; %lld frequency blocks: %lld pruned, %lld settled, %lld solved)",
                ext(r.torus).c_str(), static_cast<long long>(r.circular.blocks),
                static_cast<long long>(r.circular.pruned),
                static_cast<long long>(r.circular.settled),
                static_cast<long long>(r.circular.resolved));
  if (r.circular.lanczos > 0)
    std::printf(
        "\n                          solved blocks: %lld by Lanczos + Cholesky test, %lld by exact "
        "eigen-solve",
        static_cast<long long>(r.circular.lanczos),
        static_cast<long long>(r.circular.resolved - r.circular.lanczos));
  if (r.spectrum_on_demand)
    std::printf("\n                          frequency blocks computed on demand (stored, they "
                "would exceed 1 GiB or the memory limit)");
  if (r.gram_from_taps)
    std::printf("\n                          Gram matrices from products of kernel taps (no "
                "block formed)");
  if (r.method == ConvMethod::torus_bound)
    std::printf(
        "\n                          lower bound from %d Lanczos steps on the true operator",
        r.lanczos.steps);
  if (r.spectral_norm > 0 && std::isfinite(r.spectral_norm) && std::isfinite(reshaped))
    std::printf(
        "\nreshaped-weight norm      %.9g   (what torch.nn.utils.spectral_norm reports: %.3gx "
        "the layer's norm%s)\n",
        reshaped, reshaped / r.spectral_norm,
        reshaped < r.lower_bound ? ", below it: not a bound" : "");
  else
    std::printf("\nreshaped-weight norm      %.9g   (what torch.nn.utils.spectral_norm reports)\n",
                reshaped);
  if (!r.singular_values.empty()) {
    const auto& sv = r.singular_values;
    std::printf("singular values           %zu, from %.9g down to %.9g\n", sv.size(), sv.front(),
                sv.back());
    std::printf("largest                  ");
    for (std::size_t i = 0; i < sv.size() && i < 8; ++i) std::printf(" %.6g", sv[i]);
    std::printf("\n");
  } else if (options.all_singular_values) {
    std::printf(
        "singular values           not listed: the full spectrum is exact only for circular "
        "padding or a zero-padded operator of at most %lld rows and columns\n",
        static_cast<long long>(options.dense_limit));
  }
  std::printf("time                      %.3f s\n", r.seconds);
}

}  // namespace

int conv_command(int argc, const char* const* argv) {
  po::options_description desc(
      "Usage: lipschitz conv --weight W.npy --input N|HxW [options]\n"
      "Spectral norm (Lipschitz constant in L2) and singular values of a convolution layer with\n"
      "PyTorch semantics (Conv1d/Conv2d/ConvTranspose1d/ConvTranspose2d).\n\nOptions");
  // clang-format off
  desc.add_options()
    ("weight", po::value<std::string>(), "weight .npy (float32/float64, C order): (c_out, c_in/groups, k[, k]), "
                                         "or (c_in, c_out/groups, k[, k]) with --transposed; 3-D = 1-D conv")
    ("input", po::value<std::string>(), "spatial input size: N (1-D or N×N) or HxW")
    ("stride", po::value<std::string>()->default_value("1"), "stride: S or SHxSW")
    ("dilation", po::value<std::string>()->default_value("1"), "dilation: D or DHxDW")
    ("groups", po::value<long long>()->default_value(1), "groups")
    ("padding", po::value<std::string>(), "zero padding P or PHxPW; default (k_eff - 1) / 2")
    ("padding-mode", po::value<std::string>()->default_value("zeros"),
     "zeros (PyTorch's default) or circular (the layer on the torus of the input size)")
    ("transposed", "the layer is a ConvTranspose (the weight is (c_in, c_out/groups, k...))")
    ("all", "also list every singular value (circular layers, or small zero-padded ones)")
    ("json", "print one JSON object instead of the report")
    ("tolerance", po::value<double>()->default_value(1e-6), "target relative width of the sigma_1 interval")
    ("threads", po::value<int>()->default_value(0), "worker threads (0: all cores)")
    ("gram-steps", po::value<int>()->default_value(0),
     "Gram iterations per frequency block before the Cholesky test in the sigma_1 search")
    ("gram-source", po::value<std::string>()->default_value("auto"),
     "Gram matrices of the sigma_1 search: auto (a cost model picks), blocks (from each frequency "
     "block), taps (from products of kernel taps; double precision only)")
    ("precision", po::value<std::string>()->default_value("double"), "compute precision: double or float")
    ("solver", po::value<std::string>()->default_value("gram-eigen"),
     "solver for each frequency block with --all, and for the dense path: gram-eigen (fast) or "
     "svd (relative accuracy on tiny values)")
    ("dense-limit", po::value<long long>()->default_value(1024),
     "zero-padded layers with at most this many rows and columns are solved exactly as a dense matrix")
    ("max-memory", po::value<double>()->default_value(0), "refuse layers needing more than this many GiB (0: 3/4 of RAM)")
    ("example", "use the built-in example layer: DCGAN critic layer 2 (64->128, 4x4, stride 2, padding 1) "
                "on 32x32 inputs, seeded N(0, 0.02^2) weights")
    ("help,h", "this help");
  // clang-format on
  po::variables_map vm;
  try {
    // No positional arguments: a stray word is an error, not silently ignored.
    po::store(po::command_line_parser(argc, argv).options(desc).positional({}).run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    std::cerr << "lipschitz conv: " << e.what() << "\n(see lipschitz conv --help)\n";
    return 2;
  }
  if (vm.count("help")) {
    std::cout << desc << '\n';
    return 0;
  }
  try {
    const bool example = vm.count("example") > 0;
    if (!example && !vm.count("weight"))
      throw UsageError("--weight W.npy is required (or --example)");
    if (!example && !vm.count("input")) throw UsageError("--input N or --input HxW is required");
    // Every flag is checked before the file is read, so a usage error is reported as one.
    ConvSpec spec;
    spec.groups = vm["groups"].as<long long>();
    if (spec.groups < 1)
      throw UsageError("--groups must be at least 1, got " + std::to_string(spec.groups));
    try {
      spec.padding_mode = padding_mode_from_string(vm["padding-mode"].as<std::string>());
    } catch (const std::invalid_argument& e) {
      throw UsageError(std::string("--padding-mode: ") + e.what());
    }
    ConvNormOptions options;
    options.tolerance = vm["tolerance"].as<double>();
    options.threads = vm["threads"].as<int>();
    options.all_singular_values = vm.count("all") > 0;
    options.gram_steps = vm["gram-steps"].as<int>();
    if (options.gram_steps < 0 || options.gram_steps > 30)
      throw UsageError("--gram-steps must be in [0, 30]");
    try {
      options.solver = block_solver_from_string(vm["solver"].as<std::string>());
    } catch (const std::invalid_argument& e) {
      throw UsageError(std::string("--solver: ") + e.what());
    }
    try {
      options.gram_source = gram_source_from_string(vm["gram-source"].as<std::string>());
    } catch (const std::invalid_argument& e) {
      throw UsageError(std::string("--gram-source: ") + e.what());
    }
    options.dense_limit = vm["dense-limit"].as<long long>();
    options.max_memory_bytes = vm["max-memory"].as<double>() * double(1 << 30);
    if (options.threads < 0) throw UsageError("--threads must be 0 (all cores) or positive");
    if (!(options.tolerance >= 0) || options.tolerance >= 1)
      throw UsageError("--tolerance must be in [0, 1)");
    if (options.max_memory_bytes < 0) throw UsageError("--max-memory must be non-negative");
    const std::string precision = vm["precision"].as<std::string>();
    if (precision != "double" && precision != "float")
      throw UsageError("--precision must be 'double' or 'float', got '" + precision + "'");
    if (precision == "float" && options.gram_source == GramSource::taps)
      throw UsageError("--gram-source taps computes in double: use it with --precision double");

    const std::string source =
        example ? std::string("(built-in example)") : vm["weight"].as<std::string>();
    const NpyArray w = example ? example_weight() : read_npy(source);
    if (w.shape.size() != 3 && w.shape.size() != 4) {
      std::string s;
      for (auto d : w.shape) s += (s.empty() ? "" : ", ") + std::to_string(d);
      throw std::invalid_argument(
          source +
          ": expected a 3-D (1-D convolution) or 4-D (2-D convolution) weight, got shape (" + s +
          ")");
    }
    for (auto d : w.shape)
      if (d < 1) throw std::invalid_argument(source + ": the weight has an empty dimension");

    spec.spatial_dims = int(w.shape.size()) - 2;
    spec.weight_dim0 = w.shape[0];
    spec.weight_dim1 = w.shape[1];
    spec.kernel = spec.spatial_dims == 1 ? Extent{1, w.shape[2]} : Extent{w.shape[2], w.shape[3]};
    spec.transposed = vm.count("transposed") > 0;
    const int nd = spec.spatial_dims;
    spec.input = example && !vm.count("input")
                     ? Extent{32, 32}
                     : parse_extent(vm["input"].as<std::string>(), nd, "--input", 1);
    spec.stride =
        parse_extent(example && vm["stride"].defaulted() ? "2" : vm["stride"].as<std::string>(), nd,
                     "--stride", 1);
    spec.dilation = parse_extent(vm["dilation"].as<std::string>(), nd, "--dilation", 1);
    if (vm.count("padding")) {
      spec.padding = parse_extent(vm["padding"].as<std::string>(), nd, "--padding", 0);
    } else {
      const Extent ke = effective_kernel(spec);
      spec.padding = {nd == 1 ? 0 : (ke[0] - 1) / 2, (ke[1] - 1) / 2};
    }
    if (spec.padding_mode == PaddingMode::circular && vm.count("padding"))
      std::cerr << "lipschitz conv: note: --padding is ignored with --padding-mode circular "
                   "(the layer acts on the torus of the input size)\n";
    if (static_cast<std::int64_t>(w.data.size()) != weight_size(spec))
      throw std::logic_error("weight size mismatch");

    validate(spec);
    for (std::size_t i = 0; i < w.data.size(); ++i)
      if (!std::isfinite(w.data[i]))
        throw std::invalid_argument(source + ": weight entry " + std::to_string(i) +
                                    " is not finite (" + std::to_string(w.data[i]) + ")");
    ConvNormResult r;
    if (precision == "float") {
      r = analyze_conv_in<float>(spec, w.data.data(), options);
    } else {
      r = analyze_conv(spec, w.data.data(), options);
    }
    const double reshaped = reshaped_weight_norm(spec, w.data.data(), options.threads);
    if (vm.count("json")) {
      write_conv_json(std::cout, spec, r, reshaped, precision, options);
      std::cout << '\n';
    } else {
      print_human(spec, r, reshaped, source, options);
    }
    return 0;
  } catch (const UsageError& e) {
    std::cerr << "lipschitz conv: " << e.what() << "\n(see lipschitz conv --help)\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "lipschitz conv: error: " << e.what() << '\n';
    return 1;
  }
}

}  // namespace lipschitz::tools
