#include "io/mapped_file.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

namespace msync_os {

std::shared_ptr<mapped_file> mapped_file::map(const std::string& path, int& error, access mode) {
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
    at = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
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

mapped_file::~mapped_file() {
  if (data_) ::munmap(data_, size_);
}

}  // namespace msync_os
