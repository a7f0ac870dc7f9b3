#pragma once

#include <cstdint>
#include <string_view>
#include <utility>
#include <variant>

namespace omnibus {

// Errors are values (STYLE.md rule 3). Every status a client can see maps to exactly one
// Redis error text in ErrorText(); keep the two in sync.
enum class OpStatus : uint8_t {
  kOk,
  kKeyNotFound,
  kWrongType,
  kNotAnInteger,
  kNotAFloat,
  kOutOfRange,
  kIncrOverflow,
  kIncrFloatNanOrInf,
  kSyntaxError,
  kInvalidExpire,
  kStringTooLong,
  kNoSuchKey,
  kOffsetOutOfRange,
};

// The exact Redis 7 reply text (without the leading '-' and trailing CRLF).
std::string_view ErrorText(OpStatus status);

template <typename T>
class OpResult {
 public:
  OpResult(T value) : value_(std::move(value)) {}  // NOLINT: implicit by design
  OpResult(OpStatus status) : value_(status) {}    // NOLINT: implicit by design

  bool ok() const { return std::holds_alternative<T>(value_); }
  OpStatus status() const { return ok() ? OpStatus::kOk : std::get<OpStatus>(value_); }
  T& value() { return std::get<T>(value_); }
  const T& value() const { return std::get<T>(value_); }
  T& operator*() { return value(); }
  const T& operator*() const { return value(); }
  T* operator->() { return &value(); }

 private:
  std::variant<T, OpStatus> value_;
};

}  // namespace omnibus
