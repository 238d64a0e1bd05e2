// POSIX shared memory segments, mapped and handed to JavaScript as external ArrayBuffers that
// unmap when collected. The creator reserves the pages with posix_fallocate: a tmpfs that runs
// full then fails here, at creation, instead of killing the process with SIGBUS on first touch.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>

#include "kernels.h"

namespace {

bool GetName(napi_env env, napi_value value, std::string* out) {
  char buffer[256];
  size_t length = 0;
  if (napi_get_value_string_utf8(env, value, buffer, sizeof(buffer), &length) != napi_ok) return false;
  out->assign(buffer, length);
  return length > 1 && buffer[0] == '/';
}

void Unmap(napi_env, void* data, void* hint) {
  munmap(data, reinterpret_cast<size_t>(hint));
}

napi_value Errno(napi_env env, const char* what, const std::string& name) {
  char message[512];
  int error = errno;
  snprintf(message, sizeof(message), "%s %s: %s", what, name.c_str(), strerror(error));
  // The errno names callers act on become the error's `code`, as in Node's own fs errors.
  const char* code = error == ENOENT ? "ENOENT" : error == EEXIST ? "EEXIST" : error == ENOSPC ? "ENOSPC" : nullptr;
  if (code == nullptr) return Fail(env, message);
  napi_throw_error(env, code, message);
  return nullptr;
}

napi_value Map(napi_env env, napi_callback_info info, bool create) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  std::string name;
  int64_t bytes = 0;
  if (argc < 2 || !GetName(env, argv[0], &name) || napi_get_value_int64(env, argv[1], &bytes) != napi_ok ||
      bytes <= 0) {
    return Fail(env, "expected a name starting with / and a positive size");
  }
  int fd = shm_open(name.c_str(), create ? (O_CREAT | O_EXCL | O_RDWR) : O_RDWR, 0600);
  if (fd < 0) return Errno(env, "shm_open", name);
  if (create) {
    int error = ftruncate(fd, bytes) != 0 ? errno : posix_fallocate(fd, 0, bytes);
    if (error != 0) {
      close(fd);
      shm_unlink(name.c_str());
      errno = error;
      return Errno(env, "allocating", name);
    }
  } else {
    struct stat st;
    if (fstat(fd, &st) != 0 || st.st_size < bytes) {
      close(fd);
      return Fail(env, "shared memory segment is smaller than expected");
    }
  }
  void* data = mmap(nullptr, static_cast<size_t>(bytes), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  close(fd);
  if (data == MAP_FAILED) return Errno(env, "mmap", name);
  napi_value result;
  if (napi_create_external_arraybuffer(env, data, static_cast<size_t>(bytes), Unmap,
                                       reinterpret_cast<void*>(static_cast<size_t>(bytes)), &result) != napi_ok) {
    munmap(data, static_cast<size_t>(bytes));
    return Fail(env, "cannot wrap the mapping in an ArrayBuffer");
  }
  return result;
}

}  // namespace

// shmCreate(name, bytes): a new segment (fails if the name exists), mapped.
napi_value ShmCreate(napi_env env, napi_callback_info info) { return Map(env, info, true); }

// shmOpen(name, bytes): an existing segment of at least `bytes`, mapped.
napi_value ShmOpen(napi_env env, napi_callback_info info) { return Map(env, info, false); }

// shmUnlink(name): removes the name; mappings stay valid.
napi_value ShmUnlink(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  std::string name;
  if (argc < 1 || !GetName(env, argv[0], &name)) return Fail(env, "expected a name starting with /");
  if (shm_unlink(name.c_str()) != 0 && errno != ENOENT) return Errno(env, "shm_unlink", name);
  return nullptr;
}
