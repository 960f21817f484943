#include <lipschitz/buffer.hpp>

#include <cstdlib>
#include <list>
#include <mutex>
#include <new>

#include <sys/mman.h>

namespace lipschitz {

namespace {

constexpr std::size_t kHuge = std::size_t{1} << 21;
/// Smaller buffers go straight back to malloc, which keeps them anyway.
constexpr std::size_t kSmallestKept = std::size_t{1} << 18;

struct Kept {
  std::size_t capacity;
  void* p;
};

struct Cache {
  std::mutex mutex;
  std::list<Kept> kept;  // most recently released first
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
    // The smallest kept buffer that fits and is at most twice the size (a handful at most).
    auto best = c.kept.end();
    for (auto it = c.kept.begin(); it != c.kept.end(); ++it)
      if (it->capacity >= bytes && it->capacity / 2 <= bytes &&
          (best == c.kept.end() || it->capacity < best->capacity))
        best = it;
    if (best != c.kept.end()) {
      capacity = best->capacity;
      void* p = best->p;
      c.bytes -= best->capacity;
      c.kept.erase(best);
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
  if (capacity >= kSmallestKept && capacity <= kBufferCacheLimit) {
    Cache& c = cache();
    const std::lock_guard<std::mutex> lock(c.mutex);
    try {
      c.kept.push_front({capacity, p});
      c.bytes += capacity;
      // Over the limit: the least recently released go (a full spectrum kept from one call
      // must not stop the next, smaller analyses from keeping theirs).
      while (c.bytes > kBufferCacheLimit) {
        c.bytes -= c.kept.back().capacity;
        std::free(c.kept.back().p);
        c.kept.pop_back();
      }
      return;
    } catch (...) {  // no memory for the list's node: free the buffer instead
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
