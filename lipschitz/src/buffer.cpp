#include <lipschitz/buffer.hpp>

#include <cstdlib>
#include <map>
#include <mutex>
#include <new>

#include <sys/mman.h>

namespace lipschitz {

namespace {

constexpr std::size_t kHuge = std::size_t{1} << 21;
/// Smaller buffers go straight back to malloc, which keeps them anyway.
constexpr std::size_t kSmallestKept = std::size_t{1} << 18;

struct Cache {
  std::mutex mutex;
  std::multimap<std::size_t, void*> kept;  // capacity → buffer
  std::size_t bytes = 0;
};

// Never destroyed: buffers may be released by static objects' destructors after main().
Cache& cache() {
  static Cache* const c = new Cache;
  return *c;
}

}  // namespace

namespace detail {

void* acquire_buffer(std::size_t bytes, std::size_t& capacity) {
  if (bytes >= kSmallestKept) {
    Cache& c = cache();
    const std::lock_guard<std::mutex> lock(c.mutex);
    const auto it = c.kept.lower_bound(bytes);
    if (it != c.kept.end() && it->first / 2 <= bytes) {
      capacity = it->first;
      void* p = it->second;
      c.bytes -= it->first;
      c.kept.erase(it);
      return p;
    }
  }
  const std::size_t align = bytes >= kHuge ? kHuge : 64;
  capacity = (bytes + align - 1) / align * align;
  void* p = std::aligned_alloc(align, capacity);
  if (!p) throw std::bad_alloc();
#ifdef MADV_HUGEPAGE
  if (align == kHuge) madvise(p, capacity, MADV_HUGEPAGE);
#endif
  return p;
}

void release_buffer(void* p, std::size_t capacity) noexcept {
  if (capacity >= kSmallestKept) {
    Cache& c = cache();
    const std::lock_guard<std::mutex> lock(c.mutex);
    if (c.bytes + capacity <= kBufferCacheLimit) {
      try {
        c.kept.emplace(capacity, p);
        c.bytes += capacity;
        return;
      } catch (...) {  // no memory for the map's node: free the buffer instead
      }
    }
  }
  std::free(p);
}

}  // namespace detail

std::size_t release_cached_buffers() {
  Cache& c = cache();
  const std::lock_guard<std::mutex> lock(c.mutex);
  const std::size_t freed = c.bytes;
  for (const auto& [capacity, p] : c.kept) std::free(p);
  c.kept.clear();
  c.bytes = 0;
  return freed;
}

std::size_t cached_buffer_bytes() {
  Cache& c = cache();
  const std::lock_guard<std::mutex> lock(c.mutex);
  return c.bytes;
}

}  // namespace lipschitz
