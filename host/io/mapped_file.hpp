#pragma once
// A file mapped into memory. Private and writable for a snapshot (docs/design.md 12.2): a book
// read from one views its arrays here in place, and a write to one of them (a patch) copies the
// page it falls on, never the file. Read-only for the CSV inputs, which are parsed where they lie.
// The file must not be changed in place while it is mapped; convert and generate replace a snapshot
// by renaming a new file, which leaves a mapped one intact.
//
// Outside namespace msync: that name is also POSIX's msync(), which <sys/mman.h> declares in the
// global namespace, so the one file that includes it cannot see namespace msync.
#include <cstddef>
#include <memory>
#include <string>

namespace msync_os {

class mapped_file {
 public:
  enum class access { copy_on_write, read_only };
  // The whole of `path`, or null with `error` set to the errno of what failed (ENOENT: no such
  // file; EINVAL: not a regular file). An empty file maps to no bytes.
  // `populate` false maps the pages only when they are first read (a rank reading its part of a
  // snapshot, docs/design.md 16.2, reads the pages its accounts lie in, not the whole file).
  static std::shared_ptr<mapped_file> map(const std::string& path, int& error,
                                          access mode = access::copy_on_write,
                                          bool populate = true);

  // A copy of `bytes` in anonymous memory behind a file descriptor (memfd), mapped as a file is
  // (copy on write), or null with `error` set: what was read from another process is then used in
  // place as a file's bytes are, and nothing is written to a disk.
  static std::shared_ptr<mapped_file> of_bytes(const std::string& bytes, int& error);

  mapped_file(const mapped_file&) = delete;
  mapped_file& operator=(const mapped_file&) = delete;
  ~mapped_file();

  char* data() const noexcept { return data_; }
  std::size_t size() const noexcept { return size_; }

 private:
  mapped_file(char* data, std::size_t size) noexcept : data_(data), size_(size) {}
  char* data_;
  std::size_t size_;
};

}  // namespace msync_os
