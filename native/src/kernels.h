// Entry points shared by the addon's source files.
#pragma once
#include <node_api.h>

napi_value Reduce(napi_env env, napi_callback_info info);
napi_value Divide(napi_env env, napi_callback_info info);
napi_value ShmCreate(napi_env env, napi_callback_info info);
napi_value ShmOpen(napi_env env, napi_callback_info info);
napi_value ShmUnlink(napi_env env, napi_callback_info info);

// Throws a JS TypeError/Error and returns nullptr, for `return Fail(env, "...")`.
napi_value Fail(napi_env env, const char* message);
