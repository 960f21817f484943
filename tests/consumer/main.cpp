// A downstream program: the norm of a 1x1 identity convolution is 1.
#include <lipschitz/conv_norm.hpp>

#include <cstdio>

int main() {
  lipschitz::ConvSpec s;
  s.weight_dim0 = s.weight_dim1 = 1;
  s.input = {4, 4};
  s.padding_mode = lipschitz::PaddingMode::circular;
  const double w = 1.0;
  const auto r = lipschitz::analyze_conv(s, &w);
  std::printf("sigma_1 = %.12g\n", r.spectral_norm);
  return std::abs(r.spectral_norm - 1.0) < 1e-12 ? 0 : 1;
}
