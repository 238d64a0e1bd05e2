// dst[i] = dst[i] op src[i] for every TypedArray element type. Integer arithmetic goes through
// the unsigned type of the same width, so overflow wraps as in JavaScript instead of being
// undefined behaviour. Loops are plain so -O3 vectorizes them; target_clones adds AVX2/AVX-512
// variants picked at load time.
#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "kernels.h"

namespace {

enum Op { kSum = 1, kProd = 2, kMin = 3, kMax = 4, kAvg = 5 };

template <typename T, bool = std::is_integral_v<T>>
struct ArithOf {
  using type = T;
};
template <typename T>
struct ArithOf<T, true> {
  using type = std::conditional_t<(sizeof(T) < 4), uint32_t, std::make_unsigned_t<T>>;
};
template <typename T>
using Arith = typename ArithOf<T>::type;

#define CLONES __attribute__((target_clones("avx512f", "avx2", "default")))

template <typename T>
CLONES void Sum(T* __restrict d, const T* __restrict s, size_t n) {
  for (size_t i = 0; i < n; i++) d[i] = static_cast<T>(static_cast<Arith<T>>(d[i]) + static_cast<Arith<T>>(s[i]));
}
template <typename T>
CLONES void Prod(T* __restrict d, const T* __restrict s, size_t n) {
  for (size_t i = 0; i < n; i++) d[i] = static_cast<T>(static_cast<Arith<T>>(d[i]) * static_cast<Arith<T>>(s[i]));
}
template <typename T>
CLONES void Min(T* __restrict d, const T* __restrict s, size_t n) {
  for (size_t i = 0; i < n; i++) d[i] = s[i] < d[i] ? s[i] : d[i];
}
template <typename T>
CLONES void Max(T* __restrict d, const T* __restrict s, size_t n) {
  for (size_t i = 0; i < n; i++) d[i] = s[i] > d[i] ? s[i] : d[i];
}

template <typename T>
bool Apply(int op, void* dst, const void* src, size_t n) {
  T* d = static_cast<T*>(dst);
  const T* s = static_cast<const T*>(src);
  switch (op) {
    case kSum:
    case kAvg: Sum(d, s, n); return true;
    case kProd: Prod(d, s, n); return true;
    case kMin: Min(d, s, n); return true;
    case kMax: Max(d, s, n); return true;
  }
  return false;
}

bool Dispatch(napi_typedarray_type type, int op, void* d, const void* s, size_t n) {
  switch (type) {
    case napi_float32_array: return Apply<float>(op, d, s, n);
    case napi_float64_array: return Apply<double>(op, d, s, n);
    case napi_int8_array: return Apply<int8_t>(op, d, s, n);
    case napi_uint8_array:
    case napi_uint8_clamped_array: return Apply<uint8_t>(op, d, s, n);
    case napi_int16_array: return Apply<int16_t>(op, d, s, n);
    case napi_uint16_array: return Apply<uint16_t>(op, d, s, n);
    case napi_int32_array: return Apply<int32_t>(op, d, s, n);
    case napi_uint32_array: return Apply<uint32_t>(op, d, s, n);
    case napi_bigint64_array: return Apply<int64_t>(op, d, s, n);
    case napi_biguint64_array: return Apply<uint64_t>(op, d, s, n);
    default: return false;
  }
}

struct View {
  napi_typedarray_type type;
  size_t length;
  void* data;
};

bool GetView(napi_env env, napi_value value, View* out) {
  bool is = false;
  if (napi_is_typedarray(env, value, &is) != napi_ok || !is) return false;
  return napi_get_typedarray_info(env, value, &out->type, &out->length, &out->data, nullptr, nullptr) == napi_ok;
}

}  // namespace

// reduce(op, dst, src): both TypedArrays of one type and length.
napi_value Reduce(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  int32_t op = 0;
  View d{}, s{};
  if (argc < 3 || napi_get_value_int32(env, argv[0], &op) != napi_ok || !GetView(env, argv[1], &d) ||
      !GetView(env, argv[2], &s)) {
    return Fail(env, "reduce(op, dst, src) expects an op code and two TypedArrays");
  }
  if (d.type != s.type || d.length != s.length) return Fail(env, "reduce: dst and src differ in type or length");
  if (!Dispatch(d.type, op, d.data, s.data, d.length)) return Fail(env, "reduce: unsupported op or type");
  return nullptr;
}

// divide(dst, divisor) for Float32Array and Float64Array: the last step of `avg`.
napi_value Divide(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  View d{};
  double divisor = 1;
  if (argc < 2 || !GetView(env, argv[0], &d) || napi_get_value_double(env, argv[1], &divisor) != napi_ok) {
    return Fail(env, "divide(dst, divisor) expects a float TypedArray and a number");
  }
  if (d.type == napi_float32_array) {
    float* p = static_cast<float*>(d.data);
    const float v = static_cast<float>(divisor);
    for (size_t i = 0; i < d.length; i++) p[i] /= v;
  } else if (d.type == napi_float64_array) {
    double* p = static_cast<double*>(d.data);
    for (size_t i = 0; i < d.length; i++) p[i] /= divisor;
  } else {
    return Fail(env, "divide: expected a Float32Array or Float64Array");
  }
  return nullptr;
}
