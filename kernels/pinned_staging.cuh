#pragma once
// Copies between pageable host memory (the book, the host's results) and the device through two
// page-locked slots, asynchronously on the backend's stream: each piece of at most slot_bytes is
// copied by the host into a free slot and from there by the device, so that the host's copy of one
// piece overlaps the device's transfer of the one before (double buffering). A slot is reused only
// once the event recorded after its last transfer has completed.
//
// Uploads are complete, from the host's side, when upload returns: the source may be changed or
// freed (what it held is in a slot or on the device already). Downloads land in the host
// destination only at finish (or when their slot is needed again): read it after finish, and hold
// a pinned_staging::scope while they are pending.
#include <algorithm>
#include <cstddef>
#include <cstring>
#include <string>

#include "cuda_check.cuh"
#include "device_buffer.cuh"
#include "pinned_buffer.cuh"

namespace msync::cuda {

class pinned_staging {
 public:
  // Each slot's bytes: large enough that a piece's transfer takes far longer than its launch
  // (8 MiB: about 0.3 ms at 25 GB/s), small enough to allocate once per backend (16 MiB pinned).
  static constexpr std::size_t slot_bytes = std::size_t{8} << 20;

  // Allocates the slots (once; cudaMallocHost is slow, so at load_book, not per call).
  void reserve() {
    for (slot& s : slots_) s.memory.reserve(slot_bytes);
  }

  void upload(void* device, const void* host, std::size_t bytes, cudaStream_t stream) {
    reserve();
    auto* to = static_cast<unsigned char*>(device);
    const auto* from = static_cast<const unsigned char*>(host);
    for (std::size_t done = 0; done < bytes;) {
      const std::size_t n = std::min(slot_bytes, bytes - done);
      slot& s = next_free();
      std::memcpy(s.memory.data(), from + done, n);
      MSYNC_CUDA_TRY(
          cudaMemcpyAsync(to + done, s.memory.data(), n, cudaMemcpyHostToDevice, stream));
      s.done.record(stream);
      done += n;
    }
  }
  // `count` elements into the start of `device`, which must hold them.
  template <class T>
  void upload(device_buffer<T>& device, const T* host, std::size_t count, cudaStream_t stream) {
    expect_capacity(count, device.size());
    upload(static_cast<void*>(device.data()), static_cast<const void*>(host), count * sizeof(T),
           stream);
  }

  void download(void* host, const void* device, std::size_t bytes, cudaStream_t stream) {
    reserve();
    auto* to = static_cast<unsigned char*>(host);
    const auto* from = static_cast<const unsigned char*>(device);
    for (std::size_t done = 0; done < bytes;) {
      const std::size_t n = std::min(slot_bytes, bytes - done);
      slot& s = next_free();
      MSYNC_CUDA_TRY(
          cudaMemcpyAsync(s.memory.data(), from + done, n, cudaMemcpyDeviceToHost, stream));
      s.done.record(stream);
      s.pending_to = to + done;
      s.pending_bytes = n;
      done += n;
    }
  }
  // The first `count` elements of `device`, which must hold them.
  template <class T>
  void download(T* host, const device_buffer<T>& device, std::size_t count, cudaStream_t stream) {
    expect_capacity(count, device.size());
    download(static_cast<void*>(host), static_cast<const void*>(device.data()), count * sizeof(T),
             stream);
  }

  // Every download so far is in its host destination, and every slot is free.
  void finish() {
    for (std::size_t k = 0; k < 2; ++k) release(slots_[(next_ + k) % 2]);
  }

  // Forgets the downloads not yet copied out, so that no later call writes into a destination that
  // is gone (an exception between download and finish); what the device writes into the slots is
  // harmless. A scope that downloads holds one of these: after finish it forgets nothing.
  class scope {
   public:
    explicit scope(pinned_staging& staging) : staging_(staging) {}
    scope(const scope&) = delete;
    scope& operator=(const scope&) = delete;
    ~scope() {
      for (slot& s : staging_.slots_) s.pending_to = nullptr;
    }

   private:
    pinned_staging& staging_;
  };

 private:
  static void expect_capacity(std::size_t count, std::size_t size) {
    if (count > size)
      throw cuda_error("copy of " + std::to_string(count) + " elements with a device buffer of " +
                       std::to_string(size));
  }
  struct slot {
    pinned_buffer<unsigned char> memory;
    event done;  // recorded after the slot's last transfer (never recorded: complete)
    unsigned char* pending_to = nullptr;  // a download's host destination, copied at release
    std::size_t pending_bytes = 0;
  };
  // The slot's last transfer complete and a download in it copied out.
  static void release(slot& s) {
    MSYNC_CUDA_TRY(cudaEventSynchronize(s.done.get()));
    if (s.pending_to) std::memcpy(s.pending_to, s.memory.data(), s.pending_bytes);
    s.pending_to = nullptr;
    s.pending_bytes = 0;
  }
  slot& next_free() {
    slot& s = slots_[next_];
    next_ = (next_ + 1) % 2;
    release(s);
    return s;
  }

  slot slots_[2];
  std::size_t next_ = 0;
};

}  // namespace msync::cuda
