// A caching CPU allocator for libtorch, installed when the shim is loaded.
//
// libtorch's default CPU allocator is posix_memalign/free. glibc serves a block of a few MiB from a fresh mapping
// (or from a thread arena's heap that it unmaps again once it is empty), so each activation of a sampling step is
// page-faulted in anew: the worker benchmark (bench/MedfusionDicom.Bench.Worker) spent a third of its CPU time in the
// kernel on 4.5 million page faults. Like PyTorch's CUDA caching allocator, this one keeps freed large blocks and
// hands them out again for the next request of the same rounded size. Small blocks go straight to malloc, whose bins
// serve them well. The cache is bounded: MEDFUSION_TORCH_CACHE_MB (default 1024) caps the bytes it keeps, and
// MEDFUSION_TORCH_CACHE_MB=0 turns it off (libtorch's own allocator stays in place).
#include <c10/core/CPUAllocator.h>

#include <cstdlib>
#include <mutex>
#include <new>
#include <unordered_map>
#include <vector>

namespace {

constexpr size_t kAlignment = 64;           // what c10's allocator guarantees (AVX-512 loads)
constexpr size_t kMinCached = 1 << 20;      // below this, malloc's own bins do well
constexpr size_t kGranule = 512 << 10;      // sizes are rounded up to this, so near sizes share a bucket

class CachingCpuAllocator final : public c10::Allocator {
 public:
  explicit CachingCpuAllocator(size_t capacity) : capacity_(capacity) {}

  c10::DataPtr allocate(size_t n) const override {
    if (n < kMinCached) {
      void* p = Aligned(n == 0 ? kAlignment : n);
      return {p, p, &FreeSmall, c10::Device(c10::DeviceType::CPU)};
    }
    size_t size = (n + kGranule - 1) / kGranule * kGranule;
    void* p = nullptr;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      auto bucket = free_.find(size);
      if (bucket != free_.end() && !bucket->second.empty()) {
        p = bucket->second.back();
        bucket->second.pop_back();
        cached_bytes_ -= size;
        live_[p] = size;
      }
    }
    if (p == nullptr) {
      p = Aligned(size);
      std::lock_guard<std::mutex> lock(mutex_);
      live_[p] = size;
    }
    return {p, p, &FreeLarge, c10::Device(c10::DeviceType::CPU)};
  }

  c10::DeleterFnPtr raw_deleter() const override { return &FreeAny; }

  void Release(void* p) {
    std::unique_lock<std::mutex> lock(mutex_);
    auto it = live_.find(p);
    if (it == live_.end()) {  // not ours (cannot happen for pointers this allocator handed out)
      lock.unlock();
      std::free(p);
      return;
    }
    size_t size = it->second;
    live_.erase(it);
    if (cached_bytes_ + size <= capacity_) {
      free_[size].push_back(p);
      cached_bytes_ += size;
      return;
    }
    lock.unlock();
    std::free(p);
  }

  static CachingCpuAllocator* instance;

 private:
  static void* Aligned(size_t n) {
    void* p = nullptr;
    if (posix_memalign(&p, kAlignment, n) != 0 || p == nullptr) throw std::bad_alloc();
    return p;
  }
  static void FreeSmall(void* p) { std::free(p); }
  static void FreeLarge(void* p) { instance->Release(p); }
  // raw_deleter() must free whatever raw_allocate returned, large or small.
  static void FreeAny(void* p) { instance->Release(p); }

  const size_t capacity_;
  mutable std::mutex mutex_;
  mutable std::unordered_map<void*, size_t> live_;
  mutable std::unordered_map<size_t, std::vector<void*>> free_;
  mutable size_t cached_bytes_ = 0;
};

CachingCpuAllocator* CachingCpuAllocator::instance = nullptr;

size_t CapacityFromEnvironment() {
  const char* text = std::getenv("MEDFUSION_TORCH_CACHE_MB");
  if (text == nullptr || *text == '\0') return size_t{1024} << 20;
  char* end = nullptr;
  unsigned long long mb = std::strtoull(text, &end, 10);
  if (end == text || *end != '\0') return size_t{1024} << 20;  // unreadable: the default
  return static_cast<size_t>(mb) << 20;
}

// Installed once per process while the shim loads. The instance is never destroyed: tensors freed during static
// destruction at exit still reach it.
[[maybe_unused]] const bool installed = [] {
  size_t capacity = CapacityFromEnvironment();
  if (capacity == 0) return false;
  CachingCpuAllocator::instance = new CachingCpuAllocator(capacity);
  c10::SetCPUAllocator(CachingCpuAllocator::instance, /*priority=*/1);
  return true;
}();

}  // namespace
