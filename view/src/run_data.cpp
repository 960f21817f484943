// Reading a run directory: config.json, metrics.jsonl, summary.json, samples/.

#include <view/run_data.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <tuple>

namespace lipschitz::view {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::ordered_json;

/// nlohmann's messages start with "[json.exception.parse_error.101] "; the reader needs the rest.
std::string json_message(const std::exception& e) {
  std::string m = e.what();
  if (m.rfind("[json.exception.", 0) == 0) {
    const auto close = m.find("] ");
    if (close != std::string::npos) m = m.substr(close + 2);
  }
  return m;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw RunFormatError(path + ": cannot read: " + std::strerror(errno));
  std::ostringstream s;
  s << in.rdbuf();
  if (in.bad()) throw RunFormatError(path + ": read error");
  return s.str();
}

Json parse_json_file(const std::string& path) {
  const std::string text = read_file(path);
  try {
    return Json::parse(text);
  } catch (const Json::exception& e) {
    throw RunFormatError(path + ": not valid JSON: " + json_message(e));
  }
}

/// A number, or NaN for null; anything else is an error naming the key.
double number_or_null(const Json& v, const std::string& key) {
  if (v.is_null()) return kMissing;
  if (v.is_number()) return v.get<double>();
  throw std::invalid_argument("\"" + key + "\" must be a number or null, got " +
                              std::string(v.type_name()));
}

std::string compact_text(const Json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_number_float()) {
    std::ostringstream s;
    s.precision(6);
    s << v.get<double>();
    return s.str();
  }
  return v.dump();
}

const std::string* string_field(const Json& o, const char* key) {
  const auto it = o.find(key);
  return it != o.end() && it->is_string() ? it->get_ptr<const std::string*>() : nullptr;
}

double number_field(const Json& o, const char* key, double fallback) {
  const auto it = o.find(key);
  return it != o.end() && it->is_number() ? it->get<double>() : fallback;
}

/// Fills one layer from an entry of `layers`.
LayerStats parse_layer(const Json& j, std::size_t index, std::vector<std::string>& non_finite) {
  if (!j.is_object())
    throw std::invalid_argument("layers[" + std::to_string(index) + "] must be an object");
  LayerStats l;
  const std::string* name = string_field(j, "name");
  if (!name) throw std::invalid_argument("layers[" + std::to_string(index) + "] has no \"name\"");
  l.name = *name;
  if (const auto* s = string_field(j, "input_shape")) l.input_shape = *s;
  if (const auto* s = string_field(j, "output_shape")) l.output_shape = *s;
  const std::pair<const char*, double LayerStats::*> fields[] = {
      {"spectral_norm", &LayerStats::spectral_norm},
      {"lower_bound", &LayerStats::lower_bound},
      {"upper_bound", &LayerStats::upper_bound},
      {"reshaped_weight_norm", &LayerStats::reshaped_weight_norm},
      {"activation_grad_norm", &LayerStats::activation_grad_norm},
      {"weight_mean", &LayerStats::weight_mean},
      {"weight_std", &LayerStats::weight_std},
      {"weight_min", &LayerStats::weight_min},
      {"weight_max", &LayerStats::weight_max},
      {"weight_at_clip", &LayerStats::weight_at_clip}};
  for (const auto& [key, member] : fields) {
    const auto it = j.find(key);
    if (it == j.end()) continue;
    l.*member = number_or_null(*it, l.name + "." + key);
    if (it->is_null()) non_finite.push_back(l.name + "." + key);
  }
  if (const auto it = j.find("exact"); it != j.end() && it->is_boolean()) l.exact = it->get<bool>();
  return l;
}

LayerStats& layer_named(std::vector<LayerStats>& layers, const std::string& name) {
  for (auto& l : layers)
    if (l.name == name) return l;
  layers.emplace_back();
  layers.back().name = name;
  return layers.back();
}

WeightHistogram parse_histogram(const std::string& layer, const Json& j) {
  const std::string where = "weight_histograms." + layer;
  if (!j.is_object()) throw std::invalid_argument("\"" + where + "\" must be an object");
  WeightHistogram h;
  h.layer = layer;
  const auto min = j.find("min"), max = j.find("max"), counts = j.find("counts");
  if (min == j.end() || max == j.end() || counts == j.end() || !counts->is_array())
    throw std::invalid_argument("\"" + where + "\" needs \"min\", \"max\" and a \"counts\" array");
  h.min = number_or_null(*min, where + ".min");
  h.max = number_or_null(*max, where + ".max");
  for (const auto& c : *counts) h.counts.push_back(number_or_null(c, where + ".counts"));
  return h;
}

/// The record keys that hold numbers (docs/monitoring.md); anything else there is an error.
/// Keys not listed may hold anything (a later trainer may add some).
bool is_numeric_key(const std::string& key) {
  static const char* const kKeys[] = {"seconds",
                                      "wasserstein_estimate",
                                      "critic_loss",
                                      "gradient_penalty",
                                      "generator_loss",
                                      "grad_norm_mean",
                                      "grad_norm_std",
                                      "grad_norm_min",
                                      "grad_norm_max",
                                      "grad_norm_real_mean",
                                      "grad_norm_real_std",
                                      "grad_norm_real_min",
                                      "grad_norm_real_max",
                                      "grad_norm_fake_mean",
                                      "grad_norm_fake_std",
                                      "grad_norm_fake_min",
                                      "grad_norm_fake_max",
                                      "heldout_critic_loss",
                                      "heldout_wasserstein_estimate",
                                      "modes_covered",
                                      "high_quality_fraction",
                                      "critic_upper_bound",
                                      "critic_product_bound",
                                      "spectral_seconds",
                                      "monitor_seconds"};
  for (const char* k : kKeys)
    if (key == k) return true;
  return false;
}

bool is_blank(const std::string& s) {
  return std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isspace(c) != 0; });
}

std::vector<std::pair<double, double>> parse_points(const Json& j, const std::string& key) {
  std::vector<std::pair<double, double>> points;
  const auto it = j.find(key);
  if (it == j.end()) return points;
  if (!it->is_array()) throw std::invalid_argument("\"" + key + "\" must be an array of [x, y]");
  for (const auto& p : *it) {
    if (!p.is_array() || p.size() != 2 || !p[0].is_number() || !p[1].is_number())
      throw std::invalid_argument("\"" + key + "\" must be an array of [x, y] number pairs");
    points.emplace_back(p[0].get<double>(), p[1].get<double>());
  }
  return points;
}

std::pair<double, double> parse_range(const Json& j, const char* key) {
  const auto it = j.find(key);
  if (it == j.end() || !it->is_array() || it->size() != 2 || !(*it)[0].is_number() ||
      !(*it)[1].is_number())
    throw std::invalid_argument(std::string("\"") + key + "\" must be [low, high]");
  const double lo = (*it)[0].get<double>(), hi = (*it)[1].get<double>();
  if (!(std::isfinite(lo) && std::isfinite(hi) && lo < hi))
    throw std::invalid_argument(std::string("\"") + key + "\" must be finite with low < high");
  return {lo, hi};
}

}  // namespace

double Record::value(const std::string& key) const {
  for (const auto& [k, v] : scalars)
    if (k == key) return v;
  return kMissing;
}

bool Record::has(const std::string& key) const {
  return std::any_of(scalars.begin(), scalars.end(),
                     [&](const auto& kv) { return kv.first == key; });
}

const LayerStats* Record::layer(const std::string& name) const {
  for (const auto& l : layers)
    if (l.name == name) return &l;
  return nullptr;
}

double EvalRecord::value(const std::string& key) const {
  for (const auto& [k, v] : scalars)
    if (k == key) return v;
  return kMissing;
}

bool RunConfig::is_toy() const {
  return data == "8gaussians" || data == "25gaussians" || data == "swissroll";
}

bool RunConfig::is_mixture() const { return data == "8gaussians" || data == "25gaussians"; }

int RunConfig::modes_total() const {
  return data == "8gaussians" ? 8 : data == "25gaussians" ? 25 : 0;
}

Record parse_record(const std::string& json_line) {
  Json j;
  try {
    j = Json::parse(json_line);
  } catch (const Json::exception& e) {
    throw std::invalid_argument("not valid JSON: " + json_message(e));
  }
  if (!j.is_object()) throw std::invalid_argument("a record must be a JSON object");
  Record r;
  const auto step = j.find("step");
  if (step == j.end() || !step->is_number_integer())
    throw std::invalid_argument("a record needs an integer \"step\"");
  r.step = step->get<long long>();
  if (const auto c = j.find("critic_certified"); c != j.end() && c->is_boolean())
    r.critic_certified = c->get<bool>();
  if (const auto m = j.find("critic_bound_method"); m != j.end() && m->is_string())
    r.critic_bound_method = m->get<std::string>();

  std::vector<std::string> null_keys;
  for (const auto& [key, v] : j.items()) {
    if (key == "step") continue;
    if (v.is_number() || v.is_null()) {
      r.scalars.emplace_back(key, number_or_null(v, key));
      if (v.is_null() && !((key == "critic_upper_bound" || key == "critic_product_bound") &&
                           !r.critic_certified))
        null_keys.push_back(key);
    } else if (is_numeric_key(key)) {
      number_or_null(v, key);  // throws, naming the key and the type found
    } else if (key == "layers") {
      if (!v.is_array()) throw std::invalid_argument("\"layers\" must be an array");
      for (std::size_t i = 0; i < v.size(); ++i)
        r.layers.push_back(parse_layer(v[i], i, null_keys));
    } else if (key == "weight_histograms") {
      if (!v.is_object()) throw std::invalid_argument("\"weight_histograms\" must be an object");
      for (const auto& [layer, h] : v.items())
        r.weight_histograms.push_back(parse_histogram(layer, h));
    }
  }
  // Records written without `layers` (or synthetic ones) still give the compact maps.
  const std::pair<const char*, double LayerStats::*> compact[] = {
      {"layer_spectral_norms", &LayerStats::spectral_norm},
      {"layer_grad_norms", &LayerStats::activation_grad_norm}};
  for (const auto& [key, member] : compact) {
    const auto it = j.find(key);
    if (it == j.end()) continue;
    if (!it->is_object())
      throw std::invalid_argument(std::string("\"") + key + "\" must be an object");
    for (const auto& [name, v] : it->items()) {
      LayerStats& l = layer_named(r.layers, name);
      if (std::isnan(l.*member)) {
        l.*member = number_or_null(v, std::string(key) + "." + name);
        const std::string tag =
            name + "." +
            (member == &LayerStats::spectral_norm ? "spectral_norm" : "activation_grad_norm");
        if (v.is_null() && std::find(null_keys.begin(), null_keys.end(), tag) == null_keys.end())
          null_keys.push_back(tag);
      }
    }
  }
  r.non_finite = std::move(null_keys);
  return r;
}

MetricsFile read_metrics(const std::string& path) {
  std::error_code ec;
  if (!fs::exists(path, ec))
    throw RunFormatError(path +
                         ": no such file (the run has no monitoring records: was it "
                         "trained with --monitor-every 0, or has it not written one yet?)");
  const std::string text = read_file(path);
  MetricsFile out;
  std::size_t begin = 0;
  long long line_number = 0;
  while (begin < text.size()) {
    const std::size_t end = text.find('\n', begin);
    const bool last_without_newline = end == std::string::npos;
    const std::string line =
        text.substr(begin, last_without_newline ? std::string::npos : end - begin);
    begin = last_without_newline ? text.size() : end + 1;
    ++line_number;
    if (is_blank(line)) continue;
    try {
      out.records.push_back(parse_record(line));
    } catch (const std::invalid_argument& e) {
      // Each record is appended in one write ending in '\n': a last line without one is a
      // record still being written (or cut short by a crash), not a malformed file.
      if (last_without_newline) {
        out.truncated_last_line = true;
        break;
      }
      throw RunFormatError(path + ":" + std::to_string(line_number) + ": " + e.what());
    }
  }
  return out;
}

RunConfig read_config(const std::string& path) {
  const Json j = parse_json_file(path);
  if (!j.is_object()) throw RunFormatError(path + ": must hold a JSON object");
  RunConfig c;
  if (const auto* s = string_field(j, "data")) c.data = *s;
  if (const auto* s = string_field(j, "data_description")) c.data_description = *s;
  if (const auto* s = string_field(j, "objective")) c.objective = *s;
  if (const auto* s = string_field(j, "model")) c.model = *s;
  if (const auto* s = string_field(j, "critic_norm")) c.critic_norm = *s;
  c.lambda = number_field(j, "lambda", 0);
  c.clip = number_field(j, "clip", 0);
  c.steps = static_cast<long long>(number_field(j, "steps", 0));
  c.monitor_every = static_cast<long long>(number_field(j, "monitor_every", 0));
  c.monitor_batch = static_cast<long long>(number_field(j, "monitor_batch", 0));
  c.depth = static_cast<long long>(number_field(j, "depth", 0));
  c.width = static_cast<long long>(number_field(j, "width", 0));
  if (const auto it = j.find("fixed_generator"); it != j.end() && it->is_boolean())
    c.fixed_generator = it->get<bool>();
  if (const auto it = j.find("one_sided"); it != j.end() && it->is_boolean())
    c.one_sided = it->get<bool>();
  for (const auto& [key, v] : j.items()) c.entries.emplace_back(key, compact_text(v));
  return c;
}

RunSummary read_summary(const std::string& path) {
  const Json j = parse_json_file(path);
  if (!j.is_object()) throw RunFormatError(path + ": must hold a JSON object");
  RunSummary s;
  if (const auto* v = string_field(j, "status")) s.status = *v;
  if (const auto* v = string_field(j, "message")) s.message = *v;
  s.steps = static_cast<long long>(number_field(j, "steps", 0));
  s.train_seconds = number_field(j, "train_seconds", kMissing);
  s.median_step_seconds = number_field(j, "median_step_seconds", kMissing);
  s.monitor_overhead = number_field(j, "monitor_overhead", kMissing);
  return s;
}

CriticSurface read_surface(const std::string& path) {
  const Json j = parse_json_file(path);
  try {
    if (!j.is_object()) throw std::invalid_argument("must hold a JSON object");
    CriticSurface s;
    const auto step = j.find("step");
    if (step != j.end() && step->is_number_integer()) s.step = step->get<long long>();
    std::tie(s.x_min, s.x_max) = parse_range(j, "x_range");
    std::tie(s.y_min, s.y_max) = parse_range(j, "y_range");
    const auto res = j.find("resolution");
    if (res == j.end() || !res->is_number_integer() || res->get<long long>() < 2 ||
        res->get<long long>() > 4096)
      throw std::invalid_argument("\"resolution\" must be an integer in [2, 4096]");
    s.resolution = res->get<int>();
    const auto values = j.find("values");
    const std::size_t n =
        static_cast<std::size_t>(s.resolution) * static_cast<std::size_t>(s.resolution);
    if (values == j.end() || !values->is_array() || values->size() != n)
      throw std::invalid_argument(
          "\"values\" must hold resolution² = " + std::to_string(n) + " numbers, got " +
          (values == j.end() ? std::string("none") : std::to_string(values->size())));
    s.values.reserve(n);
    for (const auto& v : *values) s.values.push_back(number_or_null(v, "values"));
    s.real = parse_points(j, "real");
    s.fake = parse_points(j, "fake");
    return s;
  } catch (const std::invalid_argument& e) {
    throw RunFormatError(path + ": " + e.what());
  }
}

EvalRecord read_eval(const std::string& path, long long fallback_step) {
  const Json j = parse_json_file(path);
  if (!j.is_object()) throw RunFormatError(path + ": must hold a JSON object");
  EvalRecord e;
  const auto step = j.find("step");
  e.step = step != j.end() && step->is_number_integer() ? step->get<long long>() : fallback_step;
  // Keys the view draws: anything else that is not a number (data, classifier_path, the
  // per-mode counts) is passed over.
  static const char* const kNumeric[] = {"frechet_distance", "inception_score", "modes_covered",
                                         "high_quality_fraction", "sliced_wasserstein"};
  try {
    for (const auto& [key, v] : j.items()) {
      const bool documented =
          std::find(std::begin(kNumeric), std::end(kNumeric), key) != std::end(kNumeric);
      if (key != "step" && (v.is_number() || v.is_null() || documented))
        e.scalars.emplace_back(key, number_or_null(v, key));
    }
  } catch (const std::invalid_argument& ex) {
    throw RunFormatError(path + ": " + ex.what());
  }
  return e;
}

RunData read_run(const std::string& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) throw RunFormatError(dir + ": no such directory");
  const fs::path root(dir);
  const std::string config_path = (root / "config.json").string();
  if (!fs::exists(config_path, ec))
    throw RunFormatError(dir + ": not a run directory (no config.json)");
  RunData run;
  run.dir = dir;
  run.config = read_config(config_path);
  const std::string metrics_path = (root / "metrics.jsonl").string();
  MetricsFile metrics = read_metrics(metrics_path);
  if (metrics.records.empty())
    throw RunFormatError(metrics_path + ": holds no complete monitoring record yet");
  run.records = std::move(metrics.records);
  run.truncated_last_line = metrics.truncated_last_line;
  const std::string summary_path = (root / "summary.json").string();
  if (fs::exists(summary_path, ec)) run.summary = read_summary(summary_path);

  const fs::path samples = root / "samples";
  if (fs::is_directory(samples, ec)) {
    static const std::regex step_png(R"(step_(\d{1,18})\.png)");
    static const std::regex surface_json(R"(surface_step_(\d{1,18})\.json)");
    for (const auto& entry : fs::directory_iterator(samples, ec)) {
      if (!entry.is_regular_file(ec)) continue;
      const std::string name = entry.path().filename().string();
      std::smatch m;
      if (name == "latest.png") {
        run.latest_sample = entry.path().string();
      } else if (std::regex_match(name, m, step_png)) {
        run.samples.push_back({std::stoll(m[1].str()), entry.path().string()});
      } else if (std::regex_match(name, m, surface_json)) {
        run.surfaces.push_back({std::stoll(m[1].str()), entry.path().string()});
      }
    }
    const auto by_step = [](const auto& a, const auto& b) { return a.step < b.step; };
    std::sort(run.samples.begin(), run.samples.end(), by_step);
    std::sort(run.surfaces.begin(), run.surfaces.end(), by_step);
  }
  static const std::regex eval_json(R"(eval_step_(\d{1,18})\.json)");
  for (const auto& entry : fs::directory_iterator(root, ec)) {
    std::smatch m;
    const std::string name = entry.path().filename().string();
    // An empty file is one that `lipschitz eval RUN --json > FILE` has not written yet.
    if (entry.is_regular_file(ec) && std::regex_match(name, m, eval_json) &&
        entry.file_size(ec) > 0 && !ec)
      run.evals.push_back({std::stoll(m[1].str()), entry.path().string()});
  }
  std::sort(run.evals.begin(), run.evals.end(),
            [](const EvalFile& a, const EvalFile& b) { return a.step < b.step; });
  return run;
}

}  // namespace lipschitz::view
