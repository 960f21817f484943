// Tests conv_spec.hpp: PyTorch's shape formulas, validation messages, the forward reduction.
#include <doctest/doctest.h>
#include <lipschitz/conv_spec.hpp>

#include "dense_reference.hpp"

#include <stdexcept>

using namespace lipschitz;

namespace {
ConvSpec conv2d(Index co, Index ci, Index k, Index n) {
  return lipschitz::test::square_conv2d(co, ci, k, n);
}
}  // namespace

TEST_CASE("output sizes follow PyTorch") {
  ConvSpec s = conv2d(128, 64, 4, 32);
  s.stride = {2, 2};
  s.padding = {1, 1};
  CHECK(output_size(s) == Extent{16, 16});  // nn.Conv2d(64,128,4,2,1)(x[...,32,32]) -> 16x16
  s.dilation = {2, 2};                      // k_eff = 7: (32 + 2 - 7)/2 + 1 = 14
  CHECK(effective_kernel(s) == Extent{7, 7});
  CHECK(output_size(s) == Extent{14, 14});
  ConvSpec t = conv2d(512, 256, 4, 4);  // nn.ConvTranspose2d(512, 256, 4, 2, 1): 4 -> 8
  t.transposed = true;
  t.stride = {2, 2};
  t.padding = {1, 1};
  CHECK(output_size(t) == Extent{8, 8});
  CHECK(in_channels(t) == 512);
  CHECK(out_channels(t) == 256);
  ConvSpec c = conv2d(8, 8, 3, 12);
  c.padding_mode = PaddingMode::circular;
  c.stride = {3, 3};
  CHECK(output_size(c) == Extent{4, 4});
  ConvSpec one = conv2d(4, 2, 1, 1);  // 1-D
  one.spatial_dims = 1;
  one.kernel = {1, 5};
  one.input = {1, 10};
  CHECK(output_size(one) == Extent{1, 6});
}

TEST_CASE("the forward reduction of a transposed layer is its adjoint convolution") {
  ConvSpec t = conv2d(6, 4, 3, 5);
  t.transposed = true;
  t.groups = 2;
  t.stride = {2, 2};
  t.padding = {1, 1};
  const ForwardConv f = forward_conv(t);
  CHECK(f.out_channels == 6);
  CHECK(f.in_channels == 8);
  CHECK(f.input == Extent{9, 9});  // (5 - 1)·2 − 2 + 3
  CHECK(f.output == Extent{5, 5});
}

TEST_CASE("validation names the constraint and the value") {
  ConvSpec s = conv2d(6, 2, 3, 8);
  s.groups = 4;
  CHECK_THROWS_WITH_AS(validate(s), "groups must divide c_out: c_out = 6, groups = 4",
                       std::invalid_argument);
  s.transposed = true;
  CHECK_THROWS_WITH_AS(validate(s), "groups must divide c_in: c_in = 6, groups = 4",
                       std::invalid_argument);
  ConvSpec c = conv2d(2, 2, 3, 10);
  c.padding_mode = PaddingMode::circular;
  c.stride = {3, 3};
  CHECK_THROWS_WITH_AS(
      validate(c),
      "stride must divide the input size for circular padding: input = 10x10, stride = 3x3",
      std::invalid_argument);
  ConvSpec big = conv2d(2, 2, 7, 3);
  CHECK_THROWS_WITH_AS(
      validate(big),
      "the effective kernel (7x7) is larger than the padded input (input 3x3, padding "
      "0x0): the output would be empty",
      std::invalid_argument);
  ConvSpec zero = conv2d(2, 2, 0, 3);
  CHECK_THROWS_WITH_AS(validate(zero), "kernel size must be in [1, 16777216], got 0x0",
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(padding_mode_from_string("reflect"),
                       "padding mode must be 'zeros' or 'circular', got 'reflect'",
                       std::invalid_argument);
  CHECK(padding_mode_from_string(to_string(PaddingMode::circular)) == PaddingMode::circular);
}
