// Tests run_data.hpp: reading run directories, records and surfaces; a partial last line; every
// error names the file (and line).
#include <doctest/doctest.h>
#include <view/run_data.hpp>

#include "run_fixture.hpp"

#include <cmath>
#include <filesystem>

using namespace lipschitz::view;
using namespace lipschitz::view::testing;

TEST_CASE("a complete run directory") {
  TempDir tmp("run_data_complete");
  const std::string dir = tmp / "run";
  write_run(dir, 4);
  const RunData run = read_run(dir);
  CHECK(run.dir == dir);
  CHECK(run.config.data == "8gaussians");
  CHECK(run.config.objective == "wgan-gp");
  CHECK(run.config.lambda == doctest::Approx(0.1));
  CHECK(run.config.steps == 300);
  CHECK(run.config.is_toy());
  CHECK(run.config.is_mixture());
  CHECK(run.config.modes_total() == 8);
  CHECK(run.config.entries.front().first == "batch_size");  // file order kept
  REQUIRE(run.records.size() == 4);
  CHECK(run.records[2].step == 200);
  CHECK(run.records[2].value("seconds") == doctest::Approx(2.0));
  CHECK(run.records[0].value("grad_norm_mean") == doctest::Approx(2.16));
  CHECK(std::isnan(run.records[0].value("no_such_key")));
  CHECK(run.records[0].has("modes_covered"));
  CHECK_FALSE(run.records[0].has("no_such_key"));
  REQUIRE(run.records[0].layers.size() == 3);
  const LayerStats& fc2 = run.records[0].layers[1];
  CHECK(fc2.name == "fc2");
  CHECK(fc2.input_shape == "16");
  CHECK(fc2.spectral_norm == doctest::Approx(1.2));
  CHECK(fc2.activation_grad_norm == doctest::Approx(0.07));
  CHECK(fc2.exact);
  CHECK(run.records[0].layer("fc3") != nullptr);
  CHECK(run.records[0].layer("fc9") == nullptr);
  REQUIRE(run.records[0].weight_histograms.size() == 3);
  CHECK(run.records[0].weight_histograms[0].layer == "fc1");
  CHECK(run.records[0].weight_histograms[0].counts.size() == 40);
  CHECK(run.records[0].weight_histograms[0].min == doctest::Approx(-0.7));
  CHECK(run.records[0].non_finite.empty());
  CHECK_FALSE(run.truncated_last_line);
  REQUIRE(run.summary.has_value());
  CHECK(run.summary->status == "completed");
  CHECK(run.summary->train_seconds == doctest::Approx(12.5));
  REQUIRE(run.samples.size() == 3);
  CHECK(run.samples[0].step == 100);
  CHECK(run.samples[2].step == 300);
  CHECK(run.latest_sample == dir + "/samples/latest.png");
  REQUIRE(run.surfaces.size() == 1);
  CHECK(run.surfaces[0].step == 300);
}

TEST_CASE("an incomplete last line is dropped, not an error") {
  TempDir tmp("run_data_truncated");
  const std::string dir = tmp / "run";
  write_run(dir, 3);
  const std::string partial = record_json(300).substr(0, 200);  // no newline: being written
  write_text(dir + "/metrics.jsonl", read_text(dir + "/metrics.jsonl") + partial);
  const MetricsFile m = read_metrics(dir + "/metrics.jsonl");
  CHECK(m.records.size() == 3);
  CHECK(m.truncated_last_line);
  const RunData run = read_run(dir);
  CHECK(run.records.size() == 3);
  CHECK(run.truncated_last_line);

  SUBCASE("a complete last record without its newline is kept") {
    write_text(dir + "/metrics.jsonl", record_json(0) + "\n" + record_json(100));
    const MetricsFile k = read_metrics(dir + "/metrics.jsonl");
    CHECK(k.records.size() == 2);
    CHECK_FALSE(k.truncated_last_line);
  }
  SUBCASE("blank lines are skipped") {
    write_text(dir + "/metrics.jsonl", "\n" + record_json(0) + "\n\n" + record_json(100) + "\n\n");
    CHECK(read_metrics(dir + "/metrics.jsonl").records.size() == 2);
  }
}

TEST_CASE("malformed metrics name the file and the line") {
  TempDir tmp("run_data_errors");
  const std::string path = tmp / "metrics.jsonl";
  SUBCASE("garbage in the middle") {
    write_text(path, record_json(0) + "\n{\"step\": 100, garbage\n" + record_json(200) + "\n");
    CHECK_THROWS_WITH_AS(read_metrics(path),
                         doctest::Contains((path + ":2: not valid JSON").c_str()), RunFormatError);
  }
  SUBCASE("a garbage last line that ends in a newline is an error too") {
    write_text(path, record_json(0) + "\nnot json\n");
    CHECK_THROWS_WITH_AS(read_metrics(path),
                         doctest::Contains((path + ":2: not valid JSON").c_str()), RunFormatError);
  }
  SUBCASE("no step") {
    write_text(path, "{\"seconds\": 1}\n");
    CHECK_THROWS_WITH_AS(read_metrics(path),
                         (path + ":1: a record needs an integer \"step\"").c_str(), RunFormatError);
  }
  SUBCASE("not an object") {
    write_text(path, record_json(0) + "\n[1, 2]\n");
    CHECK_THROWS_WITH_AS(read_metrics(path), (path + ":2: a record must be a JSON object").c_str(),
                         RunFormatError);
  }
  SUBCASE("a string where a number belongs") {
    write_text(path, "{\"step\": 0, \"critic_loss\": \"high\"}\n");
    CHECK_THROWS_WITH_AS(
        read_metrics(path),
        (path + ":1: \"critic_loss\" must be a number or null, got string").c_str(),
        RunFormatError);
  }
  SUBCASE("a bad weight histogram") {
    write_text(path, "{\"step\": 0, \"weight_histograms\": {\"fc1\": {\"min\": 0}}}\n");
    CHECK_THROWS_WITH_AS(
        read_metrics(path),
        (path + ":1: \"weight_histograms.fc1\" needs \"min\", \"max\" and a \"counts\" array")
            .c_str(),
        RunFormatError);
  }
  SUBCASE("missing file") {
    CHECK_THROWS_WITH_AS(read_metrics(tmp / "nope.jsonl"),
                         doctest::Contains("nope.jsonl: no such file"), RunFormatError);
  }
}

TEST_CASE("what is not a run directory") {
  TempDir tmp("run_data_not_a_run");
  CHECK_THROWS_WITH_AS(read_run(tmp / "missing"), (tmp / "missing" + ": no such directory").c_str(),
                       RunFormatError);
  CHECK_THROWS_WITH_AS(read_run(tmp.str()),
                       (tmp.str() + ": not a run directory (no config.json)").c_str(),
                       RunFormatError);
  write_text(tmp / "config.json", config_json());
  CHECK_THROWS_WITH_AS(read_run(tmp.str()),
                       doctest::Contains((tmp / "metrics.jsonl" + ": no such file").c_str()),
                       RunFormatError);
  write_text(tmp / "metrics.jsonl", "");
  CHECK_THROWS_WITH_AS(
      read_run(tmp.str()),
      (tmp / "metrics.jsonl" + ": holds no complete monitoring record yet").c_str(),
      RunFormatError);
  write_text(tmp / "metrics.jsonl", record_json(0) + "\n");
  write_text(tmp / "config.json", "{\"data\": ");
  CHECK_THROWS_WITH_AS(read_run(tmp.str()),
                       doctest::Contains((tmp / "config.json" + ": not valid JSON").c_str()),
                       RunFormatError);
  write_text(tmp / "config.json", config_json());
  write_text(tmp / "summary.json", "[]");
  CHECK_THROWS_WITH_AS(read_run(tmp.str()),
                       (tmp / "summary.json" + ": must hold a JSON object").c_str(),
                       RunFormatError);
  std::filesystem::remove(tmp / "summary.json");
  CHECK_FALSE(read_run(tmp.str()).summary.has_value());  // optional
}

TEST_CASE("null is non-finite, except the bound of an uncertified critic") {
  const Record r = parse_record(
      "{\"step\": 5, \"critic_loss\": null, \"critic_upper_bound\": null, \"critic_certified\": "
      "true,"
      " \"layers\": [{\"name\": \"fc1\", \"spectral_norm\": null, \"activation_grad_norm\": "
      "0.1}]}");
  CHECK(std::isnan(r.value("critic_loss")));
  CHECK(r.has("critic_loss"));
  REQUIRE(r.non_finite.size() == 3);
  CHECK(r.non_finite[0] == "critic_loss");
  CHECK(r.non_finite[1] == "critic_upper_bound");
  CHECK(r.non_finite[2] == "fc1.spectral_norm");

  const Record ln =
      parse_record("{\"step\": 5, \"critic_upper_bound\": null, \"critic_certified\": false}");
  CHECK_FALSE(ln.critic_certified);
  CHECK(std::isnan(ln.value("critic_upper_bound")));
  CHECK(ln.non_finite.empty());
}

TEST_CASE("records with only the compact per-layer maps") {
  const Record r = parse_record(
      "{\"step\": 0, \"layer_spectral_norms\": {\"conv1\": 2.5, \"fc2\": 1.0},"
      " \"layer_grad_norms\": {\"conv1\": 0.01, \"fc2\": null}}");
  REQUIRE(r.layers.size() == 2);
  CHECK(r.layers[0].name == "conv1");  // file order, not alphabetical
  CHECK(r.layers[0].spectral_norm == 2.5);
  CHECK(r.layers[0].activation_grad_norm == 0.01);
  CHECK(std::isnan(r.layers[1].activation_grad_norm));
  CHECK(std::isnan(r.layers[1].weight_std));  // absent
  REQUIRE(r.non_finite.size() == 1);
  CHECK(r.non_finite[0] == "fc2.activation_grad_norm");
}

TEST_CASE("critic surfaces") {
  TempDir tmp("run_data_surface");
  const std::string path = tmp / "surface_step_0000300.json";
  write_text(path, surface_json(300, 4));
  const CriticSurface s = read_surface(path);
  CHECK(s.step == 300);
  CHECK(s.resolution == 4);
  CHECK(s.values.size() == 16);
  CHECK(s.x_min == -2);
  CHECK(s.y_max == 2);
  // Row 0 lies at y = −1.5, column 3 at x = 1.5: D = x − y = 3.
  CHECK(s.values[3] == doctest::Approx(3.0));
  REQUIRE(s.real.size() == 3);
  CHECK(s.real[0].first == 1);
  CHECK(s.fake.size() == 2);

  write_text(path,
             "{\"x_range\": [-2, 2], \"y_range\": [-2, 2], \"resolution\": 3, \"values\": [1, 2]}");
  CHECK_THROWS_WITH_AS(read_surface(path),
                       (path + ": \"values\" must hold resolution² = 9 numbers, got 2").c_str(),
                       RunFormatError);
  write_text(
      path,
      "{\"x_range\": [2, -2], \"y_range\": [-2, 2], \"resolution\": 2, \"values\": [1, 2, 3, 4]}");
  CHECK_THROWS_WITH_AS(read_surface(path),
                       (path + ": \"x_range\" must be finite with low < high").c_str(),
                       RunFormatError);
  write_text(
      path,
      "{\"x_range\": [-2, 2], \"y_range\": [-2, 2], \"resolution\": 2, \"values\": [1, 2, 3, 4],"
      " \"real\": [[1]]}");
  CHECK_THROWS_WITH_AS(read_surface(path),
                       (path + ": \"real\" must be an array of [x, y] number pairs").c_str(),
                       RunFormatError);
}

TEST_CASE("eval files: listed by step, every number read") {
  TempDir tmp("run_data_eval");
  const std::string dir = tmp / "run";
  write_run(dir, 3, "fashion-mnist", false);
  write_text(dir + "/eval_step_0000200.json",
             "{\"data\": \"fashion-mnist\", \"step\": 200, \"samples\": 10000, "
             "\"classifier_path\": \"/c.pt\", \"frechet_distance\": 120.5, "
             "\"inception_score\": null, \"seconds\": 3}\n");
  write_text(dir + "/eval_step_0000100.json", "{\"frechet_distance\": 300}\n");
  write_text(dir + "/eval_step_x.json", "{}");      // not an eval file's name: ignored
  write_text(dir + "/eval_step_0000300.json", "");  // being written by `lipschitz eval > FILE`
  const RunData run = read_run(dir);
  REQUIRE(run.evals.size() == 2);
  CHECK(run.evals[0].step == 100);
  CHECK(run.evals[1].path == dir + "/eval_step_0000200.json");
  const EvalRecord e = read_eval(run.evals[1].path, run.evals[1].step);
  CHECK(e.step == 200);
  CHECK(e.value("frechet_distance") == doctest::Approx(120.5));
  CHECK(e.value("samples") == 10000);
  CHECK(std::isnan(e.value("inception_score")));         // null
  CHECK(std::isnan(e.value("classifier_path")));         // text is passed over
  CHECK(read_eval(run.evals[0].path, 100).step == 100);  // no "step": from the name

  write_text(dir + "/eval_step_0000100.json", "[1, 2]");
  CHECK_THROWS_WITH_AS(read_eval(dir + "/eval_step_0000100.json"),
                       (dir + "/eval_step_0000100.json: must hold a JSON object").c_str(),
                       RunFormatError);
  write_text(dir + "/eval_step_0000100.json", "{\"inception_score\": \"high\"}");
  CHECK_THROWS_WITH_AS(
      read_eval(dir + "/eval_step_0000100.json"),
      (dir + "/eval_step_0000100.json: \"inception_score\" must be a number or null, got string")
          .c_str(),
      RunFormatError);
}

TEST_CASE("config: depth, width and the fixed generator") {
  TempDir tmp("run_data_config");
  write_text(tmp / "config.json",
             "{\"data\": \"swissroll\", \"depth\": 12, \"width\": 512, \"fixed_generator\": true}");
  const RunConfig c = read_config(tmp / "config.json");
  CHECK(c.depth == 12);
  CHECK(c.width == 512);
  CHECK(c.fixed_generator);
  write_text(tmp / "config.json", "{\"data\": \"swissroll\"}");
  const RunConfig d = read_config(tmp / "config.json");
  CHECK(d.depth == 0);
  CHECK_FALSE(d.fixed_generator);
}
