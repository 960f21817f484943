#include <gan/png_writer.hpp>
#include <gan/samples.hpp>

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

#include <cmath>

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

}  // namespace lipschitz::gan
