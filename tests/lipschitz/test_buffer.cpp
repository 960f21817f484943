// Tests buffer.hpp: buffers kept for reuse, the cache's limit, moves, and releasing the cache.
#include <doctest/doctest.h>
#include <lipschitz/buffer.hpp>

#include <cstdint>
#include <vector>

using lipschitz::cached_buffer_bytes;
using lipschitz::kBufferCacheLimit;
using lipschitz::release_cached_buffers;
using lipschitz::detail::Buffer;

TEST_CASE("Buffer: a large buffer goes back to the cache and is handed out again") {
  release_cached_buffers();
  const std::size_t n = std::size_t{1} << 20;  // 8 MiB of doubles
  const double* first = nullptr;
  {
    Buffer<double> a(n);
    REQUIRE(a.data() != nullptr);
    CHECK(a.size() == n);
    CHECK(reinterpret_cast<std::uintptr_t>(a.data()) % (std::size_t{1} << 21) == 0);  // 2 MiB
    a[0] = 1;
    a[n - 1] = 2;  // all of it writable
    first = a.data();
    CHECK(cached_buffer_bytes() == 0);
  }
  CHECK(cached_buffer_bytes() >= n * sizeof(double));
  {
    // Somewhat smaller: the same buffer (at most twice the size asked for)...
    Buffer<double> b(n - 1000);
    CHECK(b.data() == first);
    CHECK(cached_buffer_bytes() == 0);
    // ...but not for a request of less than half of it.
    Buffer<double> c(n / 4);
    CHECK(c.data() != first);
  }
  CHECK(release_cached_buffers() >= n * sizeof(double));
  CHECK(cached_buffer_bytes() == 0);
}

TEST_CASE(
    "Buffer: small and huge buffers are not kept; the cache holds at most its limit, the "
    "most recently released first") {
  release_cached_buffers();
  { Buffer<float> small(1000); }
  { Buffer<char> huge(kBufferCacheLimit + 1); }
  CHECK(cached_buffer_bytes() == 0);
  const std::size_t each = std::size_t{48} << 20;
  {
    std::vector<Buffer<char>> many;
    for (std::size_t total = 0; total <= 2 * kBufferCacheLimit; total += each)
      many.emplace_back(each);
  }
  CHECK(cached_buffer_bytes() > 0);
  CHECK(cached_buffer_bytes() <= kBufferCacheLimit);
  // Two 48 MiB buffers are kept (a third would pass the limit). A 64 MiB one (too large to come
  // from them) released now is kept too, and the older of them goes: the most recently released
  // are kept, not the first.
  const std::size_t mib = std::size_t{1} << 20;
  CHECK(cached_buffer_bytes() == 2 * each);
  { Buffer<char> newer(64 * mib); }
  CHECK(cached_buffer_bytes() == each + 64 * mib);
  release_cached_buffers();
}

TEST_CASE("Buffer: moves hand the storage over once") {
  release_cached_buffers();
  Buffer<double> a(std::size_t{1} << 16);
  double* p = a.data();
  Buffer<double> b(std::move(a));
  CHECK(a.data() == nullptr);
  CHECK(a.size() == 0);
  CHECK(b.data() == p);
  Buffer<double> c;
  c = std::move(b);
  CHECK(c.data() == p);
  CHECK(b.data() == nullptr);
  c = Buffer<double>();  // the old storage goes back once
  CHECK(cached_buffer_bytes() == (std::size_t{1} << 19));
  CHECK(Buffer<double>(0).data() == nullptr);
  release_cached_buffers();
}
