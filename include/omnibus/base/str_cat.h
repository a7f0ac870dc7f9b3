#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "omnibus/base/strings.h"

namespace omnibus {

// StrCat/StrAppend over std::string_view and integers. (Debian's abseil is built with its own
// absl::string_view, which does not accept std::string_view, so we keep these few helpers.)
namespace str_internal {

class Piece {
 public:
  Piece(std::string_view s) : view_(s) {}          // NOLINT
  Piece(const std::string& s) : view_(s) {}        // NOLINT
  Piece(const char* s) : view_(s) {}               // NOLINT
  Piece(char c) : view_(buf_, 1) { buf_[0] = c; }  // NOLINT
  template <typename T,
            typename = std::enable_if_t<std::is_integral_v<T> && !std::is_same_v<T, char> &&
                                        !std::is_same_v<T, bool>>>
  Piece(T v) {  // NOLINT
    if constexpr (std::is_signed_v<T>) {
      view_ = std::string_view(buf_, FormatInt64(static_cast<int64_t>(v), buf_));
    } else {
      view_ = std::string_view(buf_, FormatUint64(static_cast<uint64_t>(v), buf_));
    }
  }
  Piece(bool) = delete;
  std::string_view view() const { return view_; }

 private:
  char buf_[24];
  std::string_view view_;
};

}  // namespace str_internal

inline void StrAppend(std::string* out, std::initializer_list<str_internal::Piece> pieces) {
  size_t total = out->size();
  for (const auto& p : pieces) total += p.view().size();
  out->reserve(total);
  for (const auto& p : pieces) out->append(p.view());
}

template <typename... Args>
void StrAppend(std::string* out, const Args&... args) {
  StrAppend(out, {str_internal::Piece(args)...});
}

template <typename... Args>
std::string StrCat(const Args&... args) {
  std::string out;
  StrAppend(&out, {str_internal::Piece(args)...});
  return out;
}

// printf-style formatting into a std::string.
std::string StrFormat(const char* fmt, ...) __attribute__((format(printf, 1, 2)));

std::vector<std::string_view> SplitString(std::string_view s, char sep, bool skip_empty = false);
std::string JoinStrings(const std::vector<std::string>& parts, std::string_view sep);

}  // namespace omnibus
