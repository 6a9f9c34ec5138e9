// Element types of tensors in model files, and scalar conversions between
// float and the two 16-bit float formats.
//
// The names are the safetensors spellings ("F32", "BF16", "BOOL", ...). All
// functions are pure and thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace edgeroute::modelio {

enum class DType { kF64, kF32, kF16, kBF16, kI64, kI32, kI16, kI8, kU8, kBool };

// Every DType, in declaration order (for tests and tables).
inline constexpr DType kAllDTypes[] = {DType::kF64, DType::kF32, DType::kF16, DType::kBF16, DType::kI64,
                                       DType::kI32, DType::kI16, DType::kI8,  DType::kU8,   DType::kBool};

// The safetensors spelling: "F64", "F32", "F16", "BF16", "I64", "I32", "I16",
// "I8", "U8", "BOOL".
std::string_view dtype_name(DType dtype);
// Inverse of dtype_name (case-sensitive, as the format); nullopt when unknown.
std::optional<DType> parse_dtype(std::string_view name);
// Bytes per element: 8, 4, 2, 2, 8, 4, 2, 1, 1, 1.
std::int64_t dtype_size(DType dtype);
// True for F64, F32, F16, BF16.
bool is_float_dtype(DType dtype);

// IEEE 754 binary16 <-> binary32. half_to_float is exact. float_to_half
// rounds to nearest, ties to even, produces subnormals, saturates to infinity
// above the largest half (65504, with 65520 and up rounding to infinity) and
// keeps the sign and the top 10 payload bits of a NaN (forcing the quiet bit
// only when those bits are all zero), so that every half round-trips exactly.
float half_to_float(std::uint16_t bits);
std::uint16_t float_to_half(float value);

// bfloat16 (the top 16 bits of a binary32) <-> binary32. bf16_to_float is
// exact; float_to_bf16 rounds to nearest, ties to even (overflowing to
// infinity), and returns a quiet NaN with the input's sign for NaN.
float bf16_to_float(std::uint16_t bits);
std::uint16_t float_to_bf16(float value);

// Maps a C++ element type to its DType (for typed views and writers). F16 and
// BF16 have no C++ type here: they are handled as raw std::uint16_t bits.
template <class T>
struct DTypeOf;
template <>
struct DTypeOf<double> {
  static constexpr DType kValue = DType::kF64;
};
template <>
struct DTypeOf<float> {
  static constexpr DType kValue = DType::kF32;
};
template <>
struct DTypeOf<std::int64_t> {
  static constexpr DType kValue = DType::kI64;
};
template <>
struct DTypeOf<std::int32_t> {
  static constexpr DType kValue = DType::kI32;
};
template <>
struct DTypeOf<std::int16_t> {
  static constexpr DType kValue = DType::kI16;
};
template <>
struct DTypeOf<std::int8_t> {
  static constexpr DType kValue = DType::kI8;
};
template <>
struct DTypeOf<std::uint8_t> {
  static constexpr DType kValue = DType::kU8;
};

}  // namespace edgeroute::modelio
