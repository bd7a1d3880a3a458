#pragma once
// A reader-writer lock that prefers its writer: once the engine asks for the book exclusively, new
// readers (what-ifs) wait behind it, so a steady flow of queries cannot starve the tick path (with
// glibc's default, readers that overlap would keep the writer out for as long as they keep
// coming). A thin wrapper over POSIX's rwlock with glibc's writer-preference attribute, usable with
// std::unique_lock and std::shared_lock.
#include <pthread.h>

namespace msync::server {

class rw_lock {
 public:
  rw_lock() {
    pthread_rwlockattr_t attr;
    pthread_rwlockattr_init(&attr);
    pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    pthread_rwlock_init(&lock_, &attr);
    pthread_rwlockattr_destroy(&attr);
  }
  ~rw_lock() { pthread_rwlock_destroy(&lock_); }
  rw_lock(const rw_lock&) = delete;
  rw_lock& operator=(const rw_lock&) = delete;

  void lock() { pthread_rwlock_wrlock(&lock_); }
  void unlock() { pthread_rwlock_unlock(&lock_); }
  void lock_shared() { pthread_rwlock_rdlock(&lock_); }
  void unlock_shared() { pthread_rwlock_unlock(&lock_); }

 private:
  pthread_rwlock_t lock_;
};

}  // namespace msync::server
