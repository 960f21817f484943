#include <gan/train_options.hpp>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <stdexcept>
#include <vector>

namespace lipschitz::gan {

namespace {

template <class Enum>
struct Choice {
  const char* name;
  Enum value;
};

template <class Enum, std::size_t N>
Enum parse_choice(const std::string& text, const Choice<Enum> (&choices)[N], const char* what) {
  std::string names;
  for (const auto& c : choices) {
    if (text == c.name) return c.value;
    names += names.empty() ? "" : ", ";
    names += c.name;
  }
  throw std::invalid_argument(std::string(what) + " must be one of " + names + ": got '" + text +
                              "'");
}

template <class Enum, std::size_t N>
std::string name_of(Enum value, const Choice<Enum> (&choices)[N]) {
  for (const auto& c : choices)
    if (c.value == value) return c.name;
  return "?";
}

const Choice<Objective> kObjectives[] = {
    {"gan", Objective::gan}, {"wgan", Objective::wgan}, {"wgan-gp", Objective::wgan_gp}};
const Choice<Architecture> kArchitectures[] = {{"mlp", Architecture::mlp},
                                               {"dcgan", Architecture::dcgan}};
const Choice<CriticNorm> kNorms[] = {{"none", CriticNorm::none},
                                     {"layernorm", CriticNorm::layernorm}};
const Choice<OptimizerKind> kOptimizers[] = {{"adam", OptimizerKind::adam},
                                             {"rmsprop", OptimizerKind::rmsprop}};

std::string text(double v) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

double parse_double(const std::string& key, const std::string& s) {
  char* end = nullptr;
  errno = 0;
  const double v = std::strtod(s.c_str(), &end);
  if (s.empty() || *end != '\0' || errno == ERANGE)
    throw std::invalid_argument(key + " must be a number: got '" + s + "'");
  return v;
}

std::int64_t parse_int(const std::string& key, const std::string& s) {
  char* end = nullptr;
  errno = 0;
  const long long v = std::strtoll(s.c_str(), &end, 10);
  if (s.empty() || *end != '\0' || errno == ERANGE)
    throw std::invalid_argument(key + " must be an integer: got '" + s + "'");
  return v;
}

std::uint64_t parse_uint64(const std::string& key, const std::string& s) {
  char* end = nullptr;
  errno = 0;
  const unsigned long long v = std::strtoull(s.c_str(), &end, 10);
  if (s.empty() || s[0] == '-' || *end != '\0' || errno == ERANGE)
    throw std::invalid_argument(key + " must be an integer in [0, 2^64): got '" + s + "'");
  return v;
}

bool parse_bool(const std::string& key, const std::string& s) {
  if (s == "true" || s == "1") return true;
  if (s == "false" || s == "0") return false;
  throw std::invalid_argument(key + " must be true or false: got '" + s + "'");
}

bool is_toy(const std::string& data) {
  return data == "8gaussians" || data == "25gaussians" || data == "swissroll";
}

/// One row per field: its name, how to print it and how to parse it. Keeps to_map, from_map and
/// the "explicitly set" logic in one table.
struct Field {
  const char* name;
  std::function<std::string(const TrainOptions&)> get;
  std::function<void(TrainOptions&, const std::string&)> set;
};

#define LIPSCHITZ_FIELD_DOUBLE(member, key)                                            \
  Field {                                                                              \
    key, [](const TrainOptions& o) { return text(o.member); },                         \
        [](TrainOptions& o, const std::string& s) { o.member = parse_double(key, s); } \
  }
#define LIPSCHITZ_FIELD_INT(member, key)                                 \
  Field {                                                                \
    key, [](const TrainOptions& o) { return std::to_string(o.member); }, \
        [](TrainOptions& o, const std::string& s) {                      \
          o.member = static_cast<decltype(o.member)>(parse_int(key, s)); \
        }                                                                \
  }
#define LIPSCHITZ_FIELD_UINT64(member, key)                                            \
  Field {                                                                              \
    key, [](const TrainOptions& o) { return std::to_string(o.member); },               \
        [](TrainOptions& o, const std::string& s) { o.member = parse_uint64(key, s); } \
  }
#define LIPSCHITZ_FIELD_BOOL(member, key)                                                \
  Field {                                                                                \
    key, [](const TrainOptions& o) { return std::string(o.member ? "true" : "false"); }, \
        [](TrainOptions& o, const std::string& s) { o.member = parse_bool(key, s); }     \
  }
#define LIPSCHITZ_FIELD_STRING(member, key)                         \
  Field {                                                           \
    key, [](const TrainOptions& o) { return o.member; },            \
        [](TrainOptions& o, const std::string& s) { o.member = s; } \
  }
#define LIPSCHITZ_FIELD_ENUM(member, key, parse)                           \
  Field {                                                                  \
    key, [](const TrainOptions& o) { return to_string(o.member); },        \
        [](TrainOptions& o, const std::string& s) { o.member = parse(s); } \
  }

const std::vector<Field>& fields() {
  static const std::vector<Field> kFields = {
      LIPSCHITZ_FIELD_STRING(data, "data"),
      LIPSCHITZ_FIELD_INT(image_size, "image_size"),
      LIPSCHITZ_FIELD_INT(channels, "channels"),
      LIPSCHITZ_FIELD_DOUBLE(heldout_fraction, "heldout_fraction"),
      LIPSCHITZ_FIELD_ENUM(objective, "objective", objective_from_string),
      LIPSCHITZ_FIELD_DOUBLE(lambda, "lambda"),
      LIPSCHITZ_FIELD_BOOL(one_sided, "one_sided"),
      LIPSCHITZ_FIELD_BOOL(fixed_generator, "fixed_generator"),
      LIPSCHITZ_FIELD_DOUBLE(clip, "clip"),
      LIPSCHITZ_FIELD_INT(critic_iters, "critic_iters"),
      LIPSCHITZ_FIELD_ENUM(optimizer, "optimizer", optimizer_from_string),
      LIPSCHITZ_FIELD_DOUBLE(lr, "lr"),
      LIPSCHITZ_FIELD_DOUBLE(beta1, "beta1"),
      LIPSCHITZ_FIELD_DOUBLE(beta2, "beta2"),
      LIPSCHITZ_FIELD_INT(batch_size, "batch_size"),
      LIPSCHITZ_FIELD_INT(steps, "steps"),
      LIPSCHITZ_FIELD_ENUM(architecture, "model", architecture_from_string),
      LIPSCHITZ_FIELD_INT(width, "width"),
      LIPSCHITZ_FIELD_INT(depth, "depth"),
      LIPSCHITZ_FIELD_INT(latent_dim, "latent_dim"),
      LIPSCHITZ_FIELD_ENUM(critic_norm, "critic_norm", critic_norm_from_string),
      LIPSCHITZ_FIELD_BOOL(generator_batchnorm, "generator_batchnorm"),
      LIPSCHITZ_FIELD_INT(monitor_every, "monitor_every"),
      LIPSCHITZ_FIELD_INT(sample_every, "sample_every"),
      LIPSCHITZ_FIELD_INT(checkpoint_every, "checkpoint_every"),
      LIPSCHITZ_FIELD_INT(monitor_batch, "monitor_batch"),
      LIPSCHITZ_FIELD_DOUBLE(spectral_tolerance, "spectral_tolerance"),
      LIPSCHITZ_FIELD_UINT64(seed, "seed"),
      LIPSCHITZ_FIELD_INT(threads, "threads"),
      LIPSCHITZ_FIELD_STRING(device, "device"),
      LIPSCHITZ_FIELD_BOOL(deterministic, "deterministic"),
      LIPSCHITZ_FIELD_INT(inject_nan_at, "inject_nan_at"),
  };
  return kFields;
}

}  // namespace

std::string to_string(Objective v) { return name_of(v, kObjectives); }
Objective objective_from_string(const std::string& t) {
  return parse_choice(t, kObjectives, "objective");
}
std::string to_string(Architecture v) { return name_of(v, kArchitectures); }
Architecture architecture_from_string(const std::string& t) {
  return parse_choice(t, kArchitectures, "model");
}
std::string to_string(CriticNorm v) { return name_of(v, kNorms); }
CriticNorm critic_norm_from_string(const std::string& t) {
  return parse_choice(t, kNorms, "critic-norm");
}
std::string to_string(OptimizerKind v) { return name_of(v, kOptimizers); }
OptimizerKind optimizer_from_string(const std::string& t) {
  return parse_choice(t, kOptimizers, "optimizer");
}

void apply_defaults(TrainOptions& o, const std::map<std::string, std::string>& set) {
  const auto unset = [&](const char* key) { return set.count(key) == 0; };
  const bool toy = is_toy(o.data);
  if (!toy) {
    // Images: the DCGAN models of the WGAN-GP paper's MNIST experiment.
    if (unset("model")) o.architecture = Architecture::dcgan;
    if (unset("latent_dim")) o.latent_dim = 128;
    if (unset("width")) o.width = 64;
    if (unset("batch_size")) o.batch_size = 64;
    if (unset("monitor_every")) o.monitor_every = 100;
    if (unset("sample_every")) o.sample_every = 500;
    if (unset("checkpoint_every")) o.checkpoint_every = 500;
    if (unset("monitor_batch")) o.monitor_batch = 64;
    if (unset("steps")) o.steps = 2000;
  } else {
    if (unset("generator_batchnorm")) o.generator_batchnorm = false;  // gan_toy.py has none
    // gan_toy.py (the WGAN-GP paper's released toy code) uses λ = 0.1 on toy data. Measured
    // here: λ = 10 collapsed to ≤ 3 modes in about half the seeds; λ = 0.1 covered 8/8 in all
    // (bench/README.md, "Toy-data defaults").
    if (unset("lambda") && o.objective == Objective::wgan_gp) o.lambda = 0.1;
  }
  switch (o.objective) {
    case Objective::wgan:
      // Arjovsky et al. 2017, Algorithm 1: RMSProp, α = 5e-5, c = 0.01, n_critic = 5.
      if (unset("optimizer")) o.optimizer = OptimizerKind::rmsprop;
      if (unset("lr")) o.lr = 5e-5;
      break;
    case Objective::gan:
      // DCGAN's settings (Radford et al. 2016): Adam 2e-4, β = (0.5, 0.999), one D step.
      if (unset("lr")) o.lr = 2e-4;
      if (unset("beta2")) o.beta2 = 0.999;
      if (unset("critic_iters")) o.critic_iters = 1;
      break;
    case Objective::wgan_gp:
      break;
  }
}

std::map<std::string, std::string> to_map(const TrainOptions& o) {
  std::map<std::string, std::string> m;
  for (const Field& f : fields()) m[f.name] = f.get(o);
  return m;
}

TrainOptions options_from_map(const std::map<std::string, std::string>& map) {
  TrainOptions o;
  for (const auto& [key, value] : map) {
    bool found = false;
    for (const Field& f : fields()) {
      if (key == f.name) {
        f.set(o, value);
        found = true;
        break;
      }
    }
    if (!found) throw std::invalid_argument("unknown training setting '" + key + "'");
  }
  return o;
}

void validate(const TrainOptions& o) {
  const auto need = [](bool ok, const std::string& what) {
    if (!ok) throw std::invalid_argument(what);
  };
  need(!o.data.empty(), "data must name a toy set or a path");
  need(o.batch_size >= 1, "batch-size must be >= 1: got " + std::to_string(o.batch_size));
  need(o.steps >= 1, "steps must be >= 1: got " + std::to_string(o.steps));
  need(o.batch_size >= 2 || !o.generator_batchnorm,
       "batch-size must be >= 2 with BatchNorm in the generator: got " +
           std::to_string(o.batch_size));
  need(o.critic_iters >= 1, "critic-iters must be >= 1: got " + std::to_string(o.critic_iters));
  need(o.lr > 0 && std::isfinite(o.lr), "lr must be > 0: got " + text(o.lr));
  need(o.beta1 >= 0 && o.beta1 < 1, "beta1 must be in [0, 1): got " + text(o.beta1));
  need(o.beta2 >= 0 && o.beta2 < 1, "beta2 must be in [0, 1): got " + text(o.beta2));
  need(o.lambda >= 0 && std::isfinite(o.lambda), "lambda must be >= 0: got " + text(o.lambda));
  need(o.clip > 0 && std::isfinite(o.clip), "clip must be > 0: got " + text(o.clip));
  need(o.width >= 1, "width must be >= 1: got " + std::to_string(o.width));
  need(o.depth >= 1, "depth must be >= 1: got " + std::to_string(o.depth));
  need(o.latent_dim >= 1, "latent-dim must be >= 1: got " + std::to_string(o.latent_dim));
  need(o.image_size >= 0, "image-size must be >= 0: got " + std::to_string(o.image_size));
  need(o.channels == 0 || o.channels == 1 || o.channels == 3,
       "channels must be 1 or 3: got " + std::to_string(o.channels));
  need(o.heldout_fraction > 0 && o.heldout_fraction < 1,
       "heldout-fraction must be in (0, 1): got " + text(o.heldout_fraction));
  need(o.monitor_every >= 0, "monitor-every must be >= 0: got " + std::to_string(o.monitor_every));
  need(o.sample_every >= 0, "sample-every must be >= 0: got " + std::to_string(o.sample_every));
  need(o.checkpoint_every >= 1,
       "checkpoint-every must be >= 1: got " + std::to_string(o.checkpoint_every));
  need(o.monitor_batch >= 2, "monitor-batch must be >= 2: got " + std::to_string(o.monitor_batch));
  need(o.spectral_tolerance > 0 && o.spectral_tolerance < 1,
       "spectral-tolerance must be in (0, 1): got " + text(o.spectral_tolerance));
  need(o.threads >= 0, "threads must be >= 0: got " + std::to_string(o.threads));
  const bool cuda_index = o.device.size() > 5 && o.device.compare(0, 5, "cuda:") == 0 &&
                          o.device.find_first_not_of("0123456789", 5) == std::string::npos;
  need(o.device == "cpu" || o.device == "cuda" || cuda_index,
       "device must be cpu or cuda[:N]: got '" + o.device + "'");
  need(!(o.architecture == Architecture::dcgan && is_toy(o.data)),
       "model dcgan needs image data: got data '" + o.data + "'");
}

}  // namespace lipschitz::gan
