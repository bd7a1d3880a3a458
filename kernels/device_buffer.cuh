#pragma once
// The one owner of device memory: a move-only typed buffer allocated and freed on a stream
// (stream-ordered allocator), so nothing else calls cudaMalloc or cudaFree.
#include <cstddef>
#include <utility>
#include <vector>

#include "cuda_check.cuh"

namespace msync::cuda {

template <class T>
class device_buffer {
 public:
  device_buffer() = default;
  device_buffer(std::size_t count, cudaStream_t stream) : size_(count), stream_(stream) {
    if (count > 0) MSYNC_CUDA_TRY(cudaMallocAsync(reinterpret_cast<void**>(&data_), count * sizeof(T), stream));
  }
  device_buffer(const device_buffer&) = delete;
  device_buffer& operator=(const device_buffer&) = delete;
  device_buffer(device_buffer&& other) noexcept { swap(other); }
  device_buffer& operator=(device_buffer&& other) noexcept {
    if (this != &other) {
      release();
      swap(other);
    }
    return *this;
  }
  ~device_buffer() { release(); }

  T* data() noexcept { return data_; }
  const T* data() const noexcept { return data_; }
  std::size_t size() const noexcept { return size_; }

  void upload(const std::vector<T>& host, cudaStream_t stream) {
    MSYNC_CUDA_TRY(cudaMemcpyAsync(data_, host.data(), host.size() * sizeof(T),
                                   cudaMemcpyHostToDevice, stream));
  }
  void download(std::vector<T>& host, cudaStream_t stream) const {
    host.resize(size_);
    MSYNC_CUDA_TRY(cudaMemcpyAsync(host.data(), data_, size_ * sizeof(T), cudaMemcpyDeviceToHost,
                                   stream));
  }

 private:
  void swap(device_buffer& other) noexcept {
    std::swap(data_, other.data_);
    std::swap(size_, other.size_);
    std::swap(stream_, other.stream_);
  }
  void release() noexcept {
    if (data_) (void)cudaFreeAsync(data_, stream_);  // a destructor must not throw
    data_ = nullptr;
    size_ = 0;
  }

  T* data_ = nullptr;
  std::size_t size_ = 0;
  cudaStream_t stream_ = nullptr;
};

// An owning stream.
class stream {
 public:
  stream() { MSYNC_CUDA_TRY(cudaStreamCreateWithFlags(&handle_, cudaStreamNonBlocking)); }
  stream(const stream&) = delete;
  stream& operator=(const stream&) = delete;
  ~stream() { (void)cudaStreamDestroy(handle_); }
  cudaStream_t get() const noexcept { return handle_; }
  void synchronize() const { MSYNC_CUDA_TRY(cudaStreamSynchronize(handle_)); }

 private:
  cudaStream_t handle_ = nullptr;
};

}  // namespace msync::cuda
