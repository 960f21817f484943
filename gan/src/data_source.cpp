#include <gan/data_source.hpp>
#include <gan/image_data.hpp>

#include <ATen/ATen.h>

#include <cmath>

namespace lipschitz::gan {

namespace {

at::Tensor to_tensor(const ImageSet& set, std::int64_t size) {
  at::Tensor t = at::from_blob(const_cast<float*>(set.pixels.data()),
                               {set.count, set.channels, set.height, set.width}, at::kFloat)
                     .clone();
  if (size > 0 && (set.height != size || set.width != size)) {
    t = at::upsample_bilinear2d(t, {size, size}, /*align_corners=*/false);
  }
  return t;
}

}  // namespace

DataSource DataSource::open(const TrainOptions& options) {
  DataSource d;
  d.toy_ = toy_set_from_string(options.data);
  if (d.toy_) {
    d.description_ = options.data;
    return d;
  }
  const std::int64_t channels = options.channels > 0 ? options.channels : 3;
  const std::int64_t size = options.image_size > 0 ? options.image_size : 64;
  ImageSet train = load_images(options.data, Split::train, size, channels);
  if (train.count == 0) throw DataError(options.data + ": no images");
  const bool folder = train.labels.empty();
  if (!folder) {
    ImageSet test = load_images(options.data, Split::test, size, channels);
    d.train_ = to_tensor(train, options.image_size);
    d.heldout_ = to_tensor(test, options.image_size);
  } else {
    const at::Tensor all = to_tensor(train, options.image_size);
    const std::int64_t every =
        std::max<std::int64_t>(2, std::llround(1.0 / options.heldout_fraction));
    const at::Tensor index = at::arange(all.size(0), at::kLong);
    const at::Tensor held = index.remainder(every).eq(0);
    d.heldout_ = all.index({held});
    d.train_ = all.index({held.logical_not()});
    if (d.heldout_.size(0) == 0 || d.train_.size(0) == 0)
      throw DataError(options.data + ": too few images for a held-out split (" +
                      std::to_string(all.size(0)) + ")");
  }
  if (options.channels > 0 && d.train_.size(1) != options.channels)
    throw DataError(options.data + ": images have " + std::to_string(d.train_.size(1)) +
                    " channels, --channels asked for " + std::to_string(options.channels));
  d.description_ = train.source + " (" + std::to_string(d.train_.size(0)) + " train, " +
                   std::to_string(d.heldout_.size(0)) + " held out, " +
                   std::to_string(d.train_.size(1)) + "x" + std::to_string(d.train_.size(2)) + "x" +
                   std::to_string(d.train_.size(3)) + ")";
  return d;
}

at::Tensor DataSource::sample(std::int64_t n, at::Generator generator, bool heldout) const {
  if (toy_) return sample_toy(*toy_, n, generator);
  const at::Tensor& pool = heldout ? heldout_ : train_;
  const at::Tensor index =
      at::randint(pool.size(0), {n}, generator, at::TensorOptions().dtype(at::kLong));
  return pool.index_select(0, index);
}

ModelShape DataSource::shape(std::int64_t latent_dim) const {
  ModelShape s;
  s.latent_dim = latent_dim;
  if (toy_) return s;
  s.channels = train_.size(1);
  s.height = train_.size(2);
  s.width = train_.size(3);
  s.data_dim = s.channels * s.height * s.width;
  return s;
}

}  // namespace lipschitz::gan
