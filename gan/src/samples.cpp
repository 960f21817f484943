#include <gan/atomic_file.hpp>
#include <gan/png_writer.hpp>
#include <gan/samples.hpp>

#include <lipschitz/json_writer.hpp>
#include <torch/csrc/autograd/grad_mode.h>

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

#include <cmath>
#include <sstream>

namespace lipschitz::gan {

void write_samples(Trainer& trainer, const std::string& path, std::int64_t count,
                   std::uint64_t seed) {
  at::Generator rng = at::make_generator<at::CPUGeneratorImpl>(seed);
  const at::Tensor fake = trainer.generate(count, rng).contiguous();
  if (trainer.data().toy()) {
    const at::Tensor real = trainer.data().sample(count, rng).contiguous();
    ScatterOptions scatter;
    scatter.extent =
        2.2;  // every toy set lies within [−2, 2]² after the paper's scaling, plus noise
    write_scatter_plot(path, real.data_ptr<float>(), real.size(0), fake.data_ptr<float>(),
                       fake.size(0), scatter);
    return;
  }
  const int scale = fake.size(2) < 48 ? 2 : 1;
  write_image_grid(path, fake.data_ptr<float>(), fake.size(0), fake.size(1), fake.size(2),
                   fake.size(3), 0, scale);
}

void write_critic_surface(Trainer& trainer, const std::string& path, std::uint64_t seed) {
  at::Generator rng = at::make_generator<at::CPUGeneratorImpl>(seed);
  const at::Tensor fake = trainer.generate(kSurfacePoints, rng).to(at::kDouble).contiguous();
  const at::Tensor real =
      trainer.data().sample(kSurfacePoints, rng).to(at::kDouble).contiguous();
  const std::int64_t n = kSurfaceResolution;
  // Cell centres, row i at y = y0 + (i + ½)·h, column j at x = x0 + (j + ½)·h.
  const at::Tensor centres =
      at::linspace(-kSurfaceRange, kSurfaceRange, n + 1, at::kFloat).narrow(0, 0, n) +
      static_cast<float>(kSurfaceRange / static_cast<double>(n));
  const std::vector<at::Tensor> grid = at::meshgrid({centres, centres}, "ij");  // (y, x)
  const at::Tensor points = at::stack({grid[1].reshape({-1}), grid[0].reshape({-1})}, 1);
  at::Tensor values;
  {
    torch::NoGradGuard no_grad;
    Critic& critic = trainer.critic();
    const c10::Device device = critic->parameters().front().device();
    values = critic->forward(points.to(device)).to(at::kCPU, at::kDouble).contiguous();
  }
  std::ostringstream out;
  JsonWriter j(out);
  j.begin_object();
  j.key("step").value(static_cast<long long>(trainer.steps_done()));
  j.key("x_range").double_array({-kSurfaceRange, kSurfaceRange});
  j.key("y_range").double_array({-kSurfaceRange, kSurfaceRange});
  j.key("resolution").value(static_cast<long long>(n));
  j.key("values").double_array(
      std::vector<double>(values.data_ptr<double>(), values.data_ptr<double>() + values.numel()));
  const auto write_points = [&](const char* key, const at::Tensor& p) {
    j.key(key).begin_array();
    for (std::int64_t i = 0; i < p.size(0); ++i)
      j.double_array({p[i][0].item<double>(), p[i][1].item<double>()});
    j.end_array();
  };
  write_points("real", real);
  write_points("fake", fake);
  j.end_object();
  out << "\n";
  detail::replace_file_with_text(path, out.str());
}

}  // namespace lipschitz::gan
