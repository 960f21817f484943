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
  // One file at `name`, read by `read` from its path.
  const auto one_file = [&](const char* name, auto read) {
    const std::string path = scratch().write(name, in.rest());
    expect_clean([&] { read(path); }, path);
  };
  switch (control % 7) {
    case 0: {
      const std::string line(in.rest());
      expect_clean([&] { view::parse_record(line); });
      break;
    }
    case 1: one_file("metrics.jsonl", [](const std::string& p) { view::read_metrics(p); }); break;
    case 2: one_file("config.json", [](const std::string& p) { view::read_config(p); }); break;
    case 3: one_file("summary.json", [](const std::string& p) { view::read_summary(p); }); break;
    case 4:
      one_file("samples/surface_step_10.json", [](const std::string& p) { view::read_surface(p); });
      break;
    case 5: one_file("eval_step_10.json", [](const std::string& p) { view::read_eval(p, 10); }); break;
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
