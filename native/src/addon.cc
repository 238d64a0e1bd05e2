// troupe's optional native addon: POSIX shared memory mapped as ArrayBuffers, and the reduce
// kernels of the collectives. JavaScript falls back to sockets and plain loops without it.
#include "kernels.h"

napi_value Fail(napi_env env, const char* message) {
  napi_throw_error(env, "ERR_TROUPE_NATIVE", message);
  return nullptr;
}

static napi_value Init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"reduce", nullptr, Reduce, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"divide", nullptr, Divide, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"shmCreate", nullptr, ShmCreate, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"shmOpen", nullptr, ShmOpen, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"shmUnlink", nullptr, ShmUnlink, nullptr, nullptr, nullptr, napi_default, nullptr},
  };
  napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
