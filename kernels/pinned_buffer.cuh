#pragma once
// Page-locked host memory for what crosses PCIe on every call (the tick path's changed collateral,
// stale flags and changed accounts, a revalue's market; pinned_staging.cuh's slots). A copy from or
// to it is asynchronous on the stream and runs at the link's rate; a pageable source is first
// staged by the driver, synchronously. Grows, never shrinks: allocated once, when the book is
// loaded, and reused.
#include <cstddef>
#include <utility>

#include "cuda_check.cuh"

namespace msync::cuda {

template <class T>
class pinned_buffer {
 public:
  pinned_buffer() = default;
  pinned_buffer(const pinned_buffer&) = delete;
  pinned_buffer& operator=(const pinned_buffer&) = delete;
  pinned_buffer(pinned_buffer&& other) noexcept
      : data_(std::exchange(other.data_, nullptr)), size_(std::exchange(other.size_, 0)) {}
  pinned_buffer& operator=(pinned_buffer&& other) noexcept {
    if (this != &other) {
      release();
      data_ = std::exchange(other.data_, nullptr);
      size_ = std::exchange(other.size_, 0);
    }
    return *this;
  }
  ~pinned_buffer() { release(); }

  T* data() noexcept { return data_; }
  const T* data() const noexcept { return data_; }
  std::size_t size() const noexcept { return size_; }

  // Holds at least `count` elements afterwards; reallocates (discarding the contents) if smaller.
  // The caller makes sure no copy from or to the old memory is pending.
  void reserve(std::size_t count) {
    if (count <= size_ && data_) return;
    release();
    MSYNC_CUDA_TRY(
        cudaMallocHost(reinterpret_cast<void**>(&data_), (count > 0 ? count : 1) * sizeof(T)));
    size_ = count > 0 ? count : 1;
  }

 private:
  void release() noexcept {
    if (data_) (void)cudaFreeHost(data_);  // a destructor must not throw
    data_ = nullptr;
    size_ = 0;
  }

  T* data_ = nullptr;
  std::size_t size_ = 0;
};

}  // namespace msync::cuda
