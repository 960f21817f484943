// Large scratch buffers, kept between calls for reuse.
#pragma once

#include <cstddef>
#include <utility>

namespace lipschitz {

/// Frees the buffers the engine keeps for reuse (see detail::Buffer); returns the bytes freed.
std::size_t release_cached_buffers();

/// Bytes the engine keeps for reuse now: at most `kBufferCacheLimit`.
std::size_t cached_buffer_bytes();

/// Most bytes kept for reuse between calls.
constexpr std::size_t kBufferCacheLimit = std::size_t{128} << 20;

namespace detail {

/// Raw storage of at least `bytes`, uninitialised, 64-byte aligned (2 MiB-aligned and advised
/// for transparent huge pages from 2 MiB up): a kept buffer of at least that size and at most
/// twice it if there is one, else new memory. `capacity` receives its true size.
void* acquire_buffer(std::size_t bytes, std::size_t& capacity);
/// Returns what acquire_buffer() gave: kept for reuse from 256 KiB up to kBufferCacheLimit
/// (smaller and larger ones are freed); beyond that limit in all, the least recently released
/// kept buffers are freed.
void release_buffer(void* p, std::size_t capacity) noexcept;

/// `n` uninitialised values of a trivial type T (or std::complex) that go back to the cache
/// when destroyed. Why: every analysis allocates buffers of the same sizes (the weight's scaled
/// copy, the spectrum, the tap coefficients), and glibc returns large freed blocks to the system
/// at once, so each call faulted their pages in again, 13–16 % of a warm analysis of ResNet 256
/// or 5×5 @12 on the development machine.
template <class T>
class Buffer {
 public:
  Buffer() = default;
  explicit Buffer(std::size_t n) : size_(n) {
    if (n > 0) data_ = static_cast<T*>(acquire_buffer(n * sizeof(T), capacity_));
  }
  ~Buffer() { reset(); }
  Buffer(Buffer&& other) noexcept
      : data_(std::exchange(other.data_, nullptr)),
        size_(std::exchange(other.size_, 0)),
        capacity_(std::exchange(other.capacity_, 0)) {}
  Buffer& operator=(Buffer&& other) noexcept {
    if (this != &other) {
      reset();
      data_ = std::exchange(other.data_, nullptr);
      size_ = std::exchange(other.size_, 0);
      capacity_ = std::exchange(other.capacity_, 0);
    }
    return *this;
  }
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;

  T* data() { return data_; }
  const T* data() const { return data_; }
  std::size_t size() const { return size_; }
  T& operator[](std::size_t i) { return data_[i]; }
  const T& operator[](std::size_t i) const { return data_[i]; }

 private:
  void reset() noexcept {
    if (data_) release_buffer(data_, capacity_);
    data_ = nullptr;
    size_ = capacity_ = 0;
  }
  T* data_ = nullptr;
  std::size_t size_ = 0, capacity_ = 0;
};

}  // namespace detail
}  // namespace lipschitz
