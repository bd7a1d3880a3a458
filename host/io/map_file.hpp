#pragma once
// Mapping a file read-only into memory (POSIX mmap). Kept apart, in a namespace of its own: the
// system header declares a function msync, which collides with the project's namespace.
#include <cstddef>

namespace msync_os {

// The whole regular file at `path` mapped read-only, its size in `size`; nullptr when it cannot
// be (not a regular file, empty, no mmap on this system, an error): the caller reads it instead.
void* map_file(const char* path, std::size_t& size) noexcept;
void unmap_file(void* address, std::size_t size) noexcept;

}  // namespace msync_os
