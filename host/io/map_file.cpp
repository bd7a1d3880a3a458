#include "io/map_file.hpp"

#if defined(__unix__) || defined(__APPLE__)
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

namespace msync_os {

void* map_file(const char* path, std::size_t& size) noexcept {
  const int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return nullptr;
  struct stat st {};
  void* address = nullptr;
  if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0) {
    size = static_cast<std::size_t>(st.st_size);
    address = mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (address == MAP_FAILED) address = nullptr;
  }
  ::close(fd);  // the mapping keeps the file
  return address;
}

void unmap_file(void* address, std::size_t size) noexcept {
  if (address) munmap(address, size);
}

}  // namespace msync_os

#else

namespace msync_os {
void* map_file(const char*, std::size_t&) noexcept {
  return nullptr;
}
void unmap_file(void*, std::size_t) noexcept {}
}  // namespace msync_os

#endif
