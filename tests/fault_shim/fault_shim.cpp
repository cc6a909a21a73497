// Fault injection for black-box tests, loaded into the real binary with LD_PRELOAD (the
// service has no test hooks of its own). With FAULT_PTHREAD_CREATE_AFTER_LISTEN=1 in the
// environment, every pthread_create after the process's first successful listen() fails with
// EAGAIN: a start-up step that runs after the listeners opened fails, as a thread limit would
// make it fail.
#include <dlfcn.h>
#include <pthread.h>
#include <sys/socket.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace {

std::atomic<bool> listened{false};

bool armed() {
  static const bool on = [] {
    const char* v = std::getenv("FAULT_PTHREAD_CREATE_AFTER_LISTEN");
    return v != nullptr && std::strcmp(v, "1") == 0;
  }();
  return on;
}

}  // namespace

extern "C" int listen(int fd, int backlog) {
  using Fn = int (*)(int, int);
  static const auto real = reinterpret_cast<Fn>(dlsym(RTLD_NEXT, "listen"));
  const int r = real(fd, backlog);
  if (r == 0) listened = true;
  return r;
}

extern "C" int pthread_create(pthread_t* thread, const pthread_attr_t* attr, void* (*start)(void*),
                              void* arg) {
  using Fn = int (*)(pthread_t*, const pthread_attr_t*, void* (*)(void*), void*);
  static const auto real = reinterpret_cast<Fn>(dlsym(RTLD_NEXT, "pthread_create"));
  if (armed() && listened.load()) return EAGAIN;
  return real(thread, attr, start, arg);
}
