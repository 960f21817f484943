// Tests axis.hpp: 1-2-5 linear ticks, decade log ticks, and the short number format.
#include <doctest/doctest.h>
#include <view/axis.hpp>

#include <cmath>
#include <limits>

using namespace lipschitz::view;

namespace {
// Tick positions are products of a power of ten and a small integer: exact to a few ulps.
constexpr double kTickTol = 1e-12;

void check_values(const AxisTicks& t, const std::vector<double>& expected) {
  REQUIRE(t.values.size() == expected.size());
  for (std::size_t i = 0; i < expected.size(); ++i) {
    const double err =
        std::abs(t.values[i] - expected[i]) / std::max(std::abs(expected[i]), 1e-300);
    INFO("tick ", i, ": ", t.values[i], " vs ", expected[i]);
    CHECK(err < kTickTol);
  }
}
}  // namespace

TEST_CASE("linear ticks step by 1, 2 or 5 times a power of ten") {
  const AxisTicks t = nice_linear_ticks(0.13, 9.2, 6);
  check_values(t, {0, 2, 4, 6, 8, 10});
  CHECK(t.lo == 0);
  CHECK(t.hi == doctest::Approx(10));
  CHECK(t.labels == std::vector<std::string>{"0", "2", "4", "6", "8", "10"});

  check_values(nice_linear_ticks(-0.034, 0.071, 6), {-0.05, 0, 0.05, 0.1});  // 0.02 would need 7
  check_values(nice_linear_ticks(0, 4000, 7), {0, 1000, 2000, 3000, 4000});
  check_values(nice_linear_ticks(1e-7, 3.5e-7, 4), {1e-7, 2e-7, 3e-7, 4e-7});
  CHECK(nice_linear_ticks(1e-7, 3.5e-7, 4).labels[2] == "3e-7");
}

TEST_CASE("linear ticks: degenerate and non-finite ranges") {
  const AxisTicks one = nice_linear_ticks(5, 5, 6);
  CHECK(one.lo < 5);
  CHECK(one.hi > 5);
  const AxisTicks zero = nice_linear_ticks(0, 0, 6);
  CHECK(zero.lo <= -1);
  CHECK(zero.hi >= 1);
  const AxisTicks bad = nice_linear_ticks(std::nan(""), 3, 6);
  CHECK(bad.lo == 0);
  CHECK(bad.hi == 1);
  const AxisTicks swapped = nice_linear_ticks(9.2, 0.13, 6);
  CHECK(swapped.lo == 0);
}

TEST_CASE("log ticks sit at decades") {
  const AxisTicks t = log_ticks(0.003, 40);
  check_values(t, {1e-3, 1e-2, 1e-1, 1, 10, 100});
  CHECK(t.labels == std::vector<std::string>{"0.001", "0.01", "0.1", "1", "10", "100"});
  CHECK(t.lo == doctest::Approx(1e-3));
  CHECK(t.hi == doctest::Approx(100));

  SUBCASE("two decades or fewer also get 2 and 5") {
    check_values(log_ticks(2, 8), {1, 2, 5, 10});
    check_values(log_ticks(0.15, 8), {0.1, 0.2, 0.5, 1, 2, 5, 10});
  }
  SUBCASE("many decades: every k-th, at most max_ticks, ending on a labelled decade") {
    const AxisTicks wide = log_ticks(1e-12, 1e9, 8);
    CHECK(wide.values.size() <= 8);
    CHECK(wide.values.front() == doctest::Approx(1e-12));
    CHECK(wide.hi >= 1e9);
    CHECK(wide.values.back() == doctest::Approx(wide.hi));
    CHECK(wide.labels.front() == "1e-12");
  }
  SUBCASE("an exact decade is not widened") {
    check_values(log_ticks(1, 100), {1, 2, 5, 10, 20, 50, 100});
  }
  SUBCASE("no positive data") {
    const AxisTicks none = log_ticks(-1, 0);
    CHECK(none.lo == 1);
    CHECK(none.hi == 10);
  }
}

TEST_CASE("format_number") {
  CHECK(format_number(2.7) == "2.7");
  CHECK(format_number(2.6999999) == "2.7");
  CHECK(format_number(0.08838834) == "0.0884");
  CHECK(format_number(3000) == "3000");
  CHECK(format_number(65.7012, 4) == "65.7");
  CHECK(format_number(123456) == "1.23e5");
  CHECK(format_number(1e-8) == "1e-8");
  CHECK(format_number(-2.5e-6, 2) == "-2.5e-6");
  CHECK(format_number(0.00099996) == "0.001");
  CHECK(format_number(99999.7) == "1e5");
  CHECK(format_number(0) == "0");
  CHECK(format_number(-0.5) == "-0.5");
  CHECK(format_number(std::nan("")) == "nan");
  CHECK(format_number(std::numeric_limits<double>::infinity()) == "inf");
  CHECK(format_number(-std::numeric_limits<double>::infinity()) == "-inf");
}
