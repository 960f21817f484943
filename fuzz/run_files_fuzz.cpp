// The run files as `lipschitz view` reads them (a run directory copied from another machine, or
// a run killed mid-write): config.json, summary.json, metrics.jsonl, critic surfaces, eval
// files, and a whole run directory read and rendered into its page. Each is read or rejected
// with RunFormatError naming the file; the page is built for whatever was read.
// Control byte: which reader.

#include "fuzz_input.hpp"

#include <view/alerts.hpp>
#include <view/page.hpp>
#include <view/run_data.hpp>

using namespace lipschitz::fuzz;
namespace view = lipschitz::view;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  Input in(data, size);
  const std::uint8_t control = in.byte();
  const std::string dir = scratch().reset();
  switch (control % 7) {
    case 0: {
      const std::string line(in.rest());
      expect_clean([&] { view::parse_record(line); });
      break;
    }
    case 1: {
      const std::string path = scratch().write("metrics.jsonl", in.rest());
      expect_clean([&] { view::read_metrics(path); }, path);
      break;
    }
    case 2: {
      const std::string path = scratch().write("config.json", in.rest());
      expect_clean([&] { view::read_config(path); }, path);
      break;
    }
    case 3: {
      const std::string path = scratch().write("summary.json", in.rest());
      expect_clean([&] { view::read_summary(path); }, path);
      break;
    }
    case 4: {
      const std::string path = scratch().write("samples/surface_step_10.json", in.rest());
      expect_clean([&] { view::read_surface(path); }, path);
      break;
    }
    case 5: {
      const std::string path = scratch().write("eval_step_10.json", in.rest());
      expect_clean([&] { view::read_eval(path, 10); }, path);
      break;
    }
    default: {
      // A run directory: config.json, metrics.jsonl, summary.json and a surface, from parts.
      scratch().write("run/config.json", in.part());
      scratch().write("run/metrics.jsonl", in.part());
      const std::string_view summary = in.part();
      if (!summary.empty()) scratch().write("run/summary.json", summary);
      const std::string_view surface = in.rest();
      if (!surface.empty()) scratch().write("run/samples/surface_step_0.json", surface);
      expect_clean(
          [&] {
            const view::RunData run = view::read_run(dir + "/run");
            const std::vector<view::Alert> alerts = view::detect_alerts(run);
            for (const view::Alert& a : alerts) view::format_alert(a);
            view::ViewOptions options;
            options.chart_files = false;
            view::build_page(run, alerts, options, "2026-01-01T00:00:00Z");
          },
          dir);
    }
  }
  return 0;
}
