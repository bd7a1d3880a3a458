#include "io/mapped_file.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <string>

namespace msync_os {

std::shared_ptr<mapped_file> mapped_file::map(const std::string& path, int& error, access mode,
                                              bool populate) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    error = errno;
    return nullptr;
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    error = EINVAL;
    ::close(fd);
    return nullptr;
  }
  const auto size = static_cast<std::size_t>(st.st_size);
  void* at = nullptr;
  if (size > 0) {
    // Pages mapped up front while the mapping is read-only share the page cache's pages (a
    // writable private mapping would copy each one); then writable, so that a write copies only
    // the page it touches.
    at = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE | (populate ? MAP_POPULATE : 0), fd, 0);
    if (at == MAP_FAILED ||
        (mode == access::copy_on_write && ::mprotect(at, size, PROT_READ | PROT_WRITE) != 0)) {
      error = errno;
      if (at != MAP_FAILED) ::munmap(at, size);
      ::close(fd);
      return nullptr;
    }
  }
  ::close(fd);  // the mapping keeps the file
  return std::shared_ptr<mapped_file>(new mapped_file(static_cast<char*>(at), size));
}

std::shared_ptr<mapped_file> mapped_file::of_bytes(const std::string& bytes, int& error) {
  const int fd = ::memfd_create("marginsync-bytes", MFD_CLOEXEC);
  if (fd < 0) {
    error = errno;
    return nullptr;
  }
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      error = n < 0 ? errno : EIO;
      ::close(fd);
      return nullptr;
    }
    done += static_cast<std::size_t>(n);
  }
  std::shared_ptr<mapped_file> mapped = map("/proc/self/fd/" + std::to_string(fd), error);
  ::close(fd);  // the mapping keeps the memory
  return mapped;
}

mapped_file::~mapped_file() {
  if (data_) ::munmap(data_, size_);
}

}  // namespace msync_os
