#pragma once
// SHA-256 (FIPS 180-4), fed incrementally: the content hash of every output file in a run's
// manifest (docs/design.md 7.10), so that a reader checks a file with `sha256sum`.
//
// Written here rather than taken from OpenSSL's libcrypto: the manifest needs only this one
// function (about 100 lines, checked against the FIPS 180-4 vectors in the tests), and the
// installed static libraries would otherwise carry a crypto dependency to every consumer. It runs
// at about 150-350 MB/s on one core (docs/design.md 7.10); a dependency becomes worth it if
// outputs grow to where hashing shows in the run time.
#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace msync {

class sha256 {
 public:
  sha256();
  void update(const void* data, std::size_t n);
  void update(std::string_view s) { update(s.data(), s.size()); }
  // The digest as 64 lowercase hex digits; the object is spent after it.
  std::string hex_digest();

 private:
  void block(const unsigned char* p);

  std::array<std::uint32_t, 8> h_;
  unsigned char buffer_[64];
  std::size_t buffered_ = 0;
  std::uint64_t total_bytes_ = 0;
};

// The SHA-256 of a file's content, read from disk; throws std::runtime_error naming the file.
std::string sha256_of_file(const std::string& path, std::uint64_t* bytes = nullptr);

}  // namespace msync
