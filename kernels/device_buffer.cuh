#pragma once
// The one owner of device memory: a move-only typed buffer allocated and freed on a stream
// (stream-ordered allocator), so nothing else calls cudaMalloc or cudaFree.
#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include "cuda_check.cuh"

namespace msync::cuda {

template <class T>
class device_buffer {
 public:
  device_buffer() = default;
  device_buffer(std::size_t count, cudaStream_t stream) : size_(count), stream_(stream) {
    if (count > 0)
      MSYNC_CUDA_TRY(cudaMallocAsync(reinterpret_cast<void**>(&data_), count * sizeof(T), stream));
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

  // Holds at least `count` elements afterwards; reallocates (discarding the contents) if smaller.
  void reserve(std::size_t count, cudaStream_t stream) {
    if (count <= size_ && data_) return;
    *this = device_buffer(count, stream);
  }

  void upload(const std::vector<T>& host, cudaStream_t stream) {
    upload(host.data(), host.size(), stream);
  }
  void upload(const T* host, std::size_t count, cudaStream_t stream) {
    expect_capacity(count);
    if (count > 0)
      MSYNC_CUDA_TRY(
          cudaMemcpyAsync(data_, host, count * sizeof(T), cudaMemcpyHostToDevice, stream));
  }
  void download(std::vector<T>& host, cudaStream_t stream) const {
    host.resize(size_);
    download(host.data(), size_, stream);
  }
  void download(T* host, std::size_t count, cudaStream_t stream) const {
    expect_capacity(count);
    if (count > 0)
      MSYNC_CUDA_TRY(
          cudaMemcpyAsync(host, data_, count * sizeof(T), cudaMemcpyDeviceToHost, stream));
  }

 private:
  void expect_capacity(std::size_t count) const {
    if (count > size_)
      throw cuda_error("copy of " + std::to_string(count) + " elements into a device buffer of " +
                       std::to_string(size_));
  }
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

// An owning event, for timing stages on a stream.
class event {
 public:
  event() { MSYNC_CUDA_TRY(cudaEventCreate(&handle_)); }
  event(const event&) = delete;
  event& operator=(const event&) = delete;
  ~event() { (void)cudaEventDestroy(handle_); }
  void record(cudaStream_t s) { MSYNC_CUDA_TRY(cudaEventRecord(handle_, s)); }
  cudaEvent_t get() const noexcept { return handle_; }

 private:
  cudaEvent_t handle_ = nullptr;
};

}  // namespace msync::cuda
