// `lipschitz view RUN_DIR` (the program lipschitz-view): a run's page, charts and stability
// alerts. Links neither LibTorch nor the trainer, so it starts in milliseconds.

#include <view/page.hpp>
#include <view/png_export.hpp>

#include <boost/program_options.hpp>

#include <iostream>
#include <string>

namespace po = boost::program_options;
using namespace lipschitz::view;

int main(int argc, char** argv) {
  po::options_description visible(
      "Usage: lipschitz view RUN_DIR [options]\n\nWrites RUN_DIR/view.html: one self-contained "
      "page (no network needed) with the run's\ncharts, samples and stability alerts, and each "
      "chart as RUN_DIR/charts/NAME.svg and .png.\nPrints the alerts and the page's path");
  visible.add_options()("out,o", po::value<std::string>()->default_value(""),
                        "the HTML file [RUN_DIR/view.html]; charts go to charts/ beside it")(
      "no-png", po::bool_switch(), "charts as SVG only (no PNG files)")(
      "png-scale", po::value<double>()->default_value(2.0), "PNG pixels per SVG unit, in (0, 16]")(
      "quiet,q", po::bool_switch(), "print only the page's path")("help,h", "this text");
  po::options_description all;
  all.add(visible).add_options()("run", po::value<std::string>());
  po::positional_options_description positional;
  positional.add("run", 1);
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(argc, argv).options(all).positional(positional).run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    std::cerr << "lipschitz view: " << e.what() << " (see lipschitz view --help)\n";
    return 2;
  }
  if (vm.count("help")) {
    std::cout << visible;
    return 0;
  }
  if (!vm.count("run")) {
    std::cerr << "lipschitz view: missing RUN_DIR (see lipschitz view --help)\n";
    return 2;
  }
  ViewOptions options;
  options.output = vm["out"].as<std::string>();
  options.png = !vm["no-png"].as<bool>();
  options.png_scale = vm["png-scale"].as<double>();
  if (!(options.png_scale > 0 && options.png_scale <= 16)) {
    std::cerr << "lipschitz view: --png-scale must be in (0, 16]: got " << options.png_scale
              << "\n";
    return 2;
  }
  const bool quiet = vm["quiet"].as<bool>();
  try {
    const ViewResult r = write_view(vm["run"].as<std::string>(), options);
    if (quiet) {
      std::cout << r.html_path << "\n";
      return 0;
    }
    if (r.alerts.empty()) std::cout << "no alerts\n";
    for (const Alert& a : r.alerts) std::cout << format_alert(a) << "\n";
    std::cout << r.html_path << "  (" << r.records << " records, " << r.charts << " charts";
    if (!r.chart_files.empty())
      std::cout << " in charts/" << (options.png ? " as SVG and PNG" : " as SVG");
    std::cout << ", " << r.alerts.size() << (r.alerts.size() == 1 ? " alert" : " alerts") << ")\n";
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "lipschitz view: error: " << e.what() << "\n";
    return 1;
  }
}
