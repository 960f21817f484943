// `lipschitz view RUN_DIR` (the program lipschitz-view): a run's page, charts and stability
// alerts; `lipschitz view --compare RUN_DIR... --figure F`: several runs in one comparison page.
// Links neither LibTorch nor the trainer, so it starts in milliseconds.

#include <view/compare.hpp>
#include <view/page.hpp>
#include <view/png_export.hpp>

#include <boost/program_options.hpp>

#include <filesystem>
#include <iostream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace po = boost::program_options;
using namespace lipschitz::view;

namespace {

int usage_error(const std::string& message) {
  std::cerr << "lipschitz view: " << message << " (see lipschitz view --help)\n";
  return 2;
}

std::string files_note(std::size_t charts, bool chart_files, bool png) {
  std::string s = std::to_string(charts) + (charts == 1 ? " chart" : " charts");
  if (chart_files) s += png ? " in charts/ as SVG and PNG" : " in charts/ as SVG";
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  po::options_description visible(
      "Usage: lipschitz view RUN_DIR [options]\n"
      "       lipschitz view --compare RUN_DIR... --figure surfaces|gradients|quality [options]\n\n"
      "Writes RUN_DIR/view.html: one self-contained page (no network needed) with the run's\n"
      "charts, samples and stability alerts, and each chart as RUN_DIR/charts/NAME.svg and .png.\n"
      "Prints the alerts and the page's path.\n\n"
      "With --compare, writes one page comparing the runs (default compare-FIGURE.html in the\n"
      "current directory), and each chart as charts/STEM-NAME.svg and .png beside it:\n"
      "  surfaces   critic value surfaces, data sets across, objectives down (Gulrajani et al.\n"
      "             2017, Figure 1a); needs 2-D runs with samples/surface_step_N.json\n"
      "  gradients  per-layer gradient norms and pooled weight histograms (Figure 1b)\n"
      "  quality    W estimate, losses, modes, high-quality share, gradient norm, certified\n"
      "             bound and classifier FID (eval_step_N.json files) over time; a table");
  visible.add_options()("out,o", po::value<std::string>()->default_value(""),
                        "the HTML file [RUN_DIR/view.html; with --compare compare-FIGURE.html]; "
                        "charts go to charts/ beside it")(
      "compare", po::bool_switch(), "compare the RUN_DIRs in one page (needs --figure)")(
      "figure", po::value<std::string>(), "with --compare: surfaces, gradients or quality")(
      "no-png", po::bool_switch(), "charts as SVG only (no PNG files)")(
      "png-scale", po::value<double>()->default_value(2.0), "PNG pixels per SVG unit, in (0, 16]")(
      "quiet,q", po::bool_switch(), "print only the page's path")("help,h", "this text");
  po::options_description all;
  all.add(visible).add_options()("run", po::value<std::vector<std::string>>());
  po::positional_options_description positional;
  positional.add("run", -1);
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(argc, argv).options(all).positional(positional).run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    return usage_error(e.what());
  }
  if (vm.count("help")) {
    std::cout << visible;
    return 0;
  }
  const std::vector<std::string> dirs =
      vm.count("run") ? vm["run"].as<std::vector<std::string>>() : std::vector<std::string>{};
  const bool compare = vm["compare"].as<bool>();
  const double png_scale = vm["png-scale"].as<double>();
  const bool png = !vm["no-png"].as<bool>();
  const bool quiet = vm["quiet"].as<bool>();
  const std::string out = vm["out"].as<std::string>();
  if (!(png_scale > 0 && png_scale <= 16)) {
    std::ostringstream given;
    given << png_scale;
    return usage_error("--png-scale must be in (0, 16]: got " + given.str());
  }

  if (compare) {
    if (dirs.empty()) return usage_error("--compare needs at least one RUN_DIR");
    if (!vm.count("figure"))
      return usage_error("--compare needs --figure surfaces, gradients or quality");
    ComparisonFigure figure;
    try {
      figure = comparison_figure_from_string(vm["figure"].as<std::string>());
    } catch (const std::invalid_argument& e) {
      return usage_error(std::string("--figure: ") + e.what());
    }
    std::set<std::string> seen;
    for (const std::string& d : dirs) {
      std::error_code ec;
      const std::filesystem::path canonical = std::filesystem::weakly_canonical(d, ec);
      if (!seen.insert(ec ? d : canonical.string()).second)
        return usage_error("RUN_DIR given twice: " + d);
    }
    CompareOptions options;
    options.output = out;
    options.png = png;
    options.png_scale = png_scale;
    try {
      const ComparisonResult r = write_comparison(dirs, figure, options);
      if (!quiet)
        for (std::size_t i = 0; i < dirs.size(); ++i)
          std::cout << dirs[i] << "  " << r.labels[i] << "\n";
      if (quiet) {
        std::cout << r.html_path << "\n";
        return 0;
      }
      std::cout << r.html_path << "  (" << dirs.size() << (dirs.size() == 1 ? " run, " : " runs, ")
                << files_note(r.charts, !r.chart_files.empty(), png) << ")\n";
      return 0;
    } catch (const std::exception& e) {
      std::cerr << "lipschitz view: error: " << e.what() << "\n";
      return 1;
    }
  }

  if (vm.count("figure")) return usage_error("--figure needs --compare");
  if (dirs.empty()) {
    std::cerr << "lipschitz view: missing RUN_DIR (see lipschitz view --help)\n";
    return 2;
  }
  if (dirs.size() > 1)
    return usage_error("one RUN_DIR expected, got " + std::to_string(dirs.size()) +
                       " (--compare compares several)");
  ViewOptions options;
  options.output = out;
  options.png = png;
  options.png_scale = png_scale;
  try {
    const ViewResult r = write_view(dirs.front(), options);
    if (quiet) {
      std::cout << r.html_path << "\n";
      return 0;
    }
    if (r.alerts.empty()) std::cout << "no alerts\n";
    for (const Alert& a : r.alerts) std::cout << format_alert(a) << "\n";
    std::cout << r.html_path << "  (" << r.records << " records, "
              << files_note(r.charts, !r.chart_files.empty(), png) << ", " << r.alerts.size()
              << (r.alerts.size() == 1 ? " alert" : " alerts") << ")\n";
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "lipschitz view: error: " << e.what() << "\n";
    return 1;
  }
}
