#include "omnibus/resp/reply_builder.h"

#include <cmath>
#include <cstdio>

#include "omnibus/base/strings.h"

namespace omnibus {

void ReplyBuilder::Header(char type, int64_t n) {
  char buf[32];
  buf[0] = type;
  size_t len = 1 + FormatInt64(n, buf + 1);
  buf[len++] = '\r';
  buf[len++] = '\n';
  out_->append(buf, len);
}

ReplyValue* ReplyBuilder::Slot() {
  if (open_.empty()) {
    *capture_ = ReplyValue();
    return capture_;
  }
  auto& [agg, left] = open_.back();
  --left;
  return &agg->elements.emplace_back();
}

// After a scalar (or an empty aggregate) is placed: closes every aggregate now complete.
void ReplyBuilder::Close() {
  while (!open_.empty() && open_.back().second == 0) open_.pop_back();
}

void ReplyBuilder::Open(ReplyValue* v, char aggregate, size_t n) {
  v->kind = ReplyValue::Kind::kArray;
  v->aggregate = aggregate;
  v->elements.reserve(n);  // children are addressed by pointer while they fill
  if (n > 0) {
    open_.emplace_back(v, n);
  } else {
    Close();
  }
}

void ReplyBuilder::Reset() {
  if (capture_ != nullptr) {
    open_.clear();
    *capture_ = ReplyValue();
  } else {
    out_->clear();
  }
}

void ReplyBuilder::Value(const ReplyValue& v) {
  using K = ReplyValue::Kind;
  switch (v.kind) {
    case K::kNone:
      return;
    case K::kSimple:
      return SimpleString(v.str);
    case K::kError:
      return Error(v.str);
    case K::kInteger:
      return Integer(v.integer);
    case K::kBulk:
      return Bulk(v.str);
    case K::kNull:
      return Null();
    case K::kNullArray:
      return NullArray();
    case K::kDouble:
      return Double(v.dbl);
    case K::kBool:
      return Bool(v.integer != 0);
    case K::kVerbatim:
      return Verbatim(v.format, v.str);
    case K::kArray:
      if (v.aggregate == '%') {
        Map(v.elements.size() / 2);
      } else if (v.aggregate == '~') {
        Set(v.elements.size());
      } else {
        Array(v.elements.size());
      }
      for (const ReplyValue& e : v.elements) Value(e);
      return;
  }
}

void ReplyBuilder::SimpleString(std::string_view s) {
  if (capture_ != nullptr) {
    ReplyValue* v = Slot();
    v->kind = ReplyValue::Kind::kSimple;
    v->str = s;
    return Close();
  }
  out_->push_back('+');
  out_->append(s);
  out_->append("\r\n");
}

void ReplyBuilder::Error(std::string_view message) {
  if (capture_ != nullptr) {
    ReplyValue* v = Slot();
    v->kind = ReplyValue::Kind::kError;
    v->str = message;
    return Close();
  }
  out_->push_back('-');
  // An error line cannot carry CR or LF; Redis replaces them with spaces.
  size_t start = out_->size();
  out_->append(message);
  for (size_t i = start; i < out_->size(); ++i) {
    if ((*out_)[i] == '\r' || (*out_)[i] == '\n') (*out_)[i] = ' ';
  }
  out_->append("\r\n");
}

void ReplyBuilder::Integer(int64_t v) {
  if (capture_ != nullptr) {
    ReplyValue* r = Slot();
    r->kind = ReplyValue::Kind::kInteger;
    r->integer = v;
    return Close();
  }
  Header(':', v);
}

void ReplyBuilder::Bulk(std::string_view s) {
  if (capture_ != nullptr) {
    ReplyValue* v = Slot();
    v->kind = ReplyValue::Kind::kBulk;
    v->str = s;
    return Close();
  }
  Header('$', static_cast<int64_t>(s.size()));
  out_->append(s);
  out_->append("\r\n");
}

void ReplyBuilder::Null() {
  if (capture_ != nullptr) {
    Slot()->kind = ReplyValue::Kind::kNull;
    return Close();
  }
  out_->append(resp3_ ? "_\r\n" : "$-1\r\n");
}

void ReplyBuilder::NullArray() {
  if (capture_ != nullptr) {
    Slot()->kind = ReplyValue::Kind::kNullArray;
    return Close();
  }
  out_->append(resp3_ ? "_\r\n" : "*-1\r\n");
}

void ReplyBuilder::Array(size_t n) {
  if (capture_ != nullptr) return Open(Slot(), '*', n);
  Header('*', static_cast<int64_t>(n));
}

void ReplyBuilder::Push(size_t n) {
  if (capture_ != nullptr) return Open(Slot(), '*', n);
  Header(resp3_ ? '>' : '*', static_cast<int64_t>(n));
}

void ReplyBuilder::Map(size_t pairs) {
  if (capture_ != nullptr) return Open(Slot(), '%', pairs * 2);
  if (resp3_) {
    Header('%', static_cast<int64_t>(pairs));
  } else {
    Header('*', static_cast<int64_t>(pairs * 2));
  }
}

void ReplyBuilder::Set(size_t n) {
  if (capture_ != nullptr) return Open(Slot(), '~', n);
  Header(resp3_ ? '~' : '*', static_cast<int64_t>(n));
}

void ReplyBuilder::Double(double v) {
  if (capture_ != nullptr) {
    ReplyValue* r = Slot();
    r->kind = ReplyValue::Kind::kDouble;
    r->dbl = v;
    return Close();
  }
  std::string s = FormatDoubleReply(v);
  if (resp3_) {
    out_->push_back(',');
    out_->append(s);
    out_->append("\r\n");
  } else {
    Bulk(s);
  }
}

void ReplyBuilder::Bool(bool v) {
  if (capture_ != nullptr) {
    ReplyValue* r = Slot();
    r->kind = ReplyValue::Kind::kBool;
    r->integer = v;
    return Close();
  }
  if (resp3_) {
    out_->append(v ? "#t\r\n" : "#f\r\n");
  } else {
    Integer(v ? 1 : 0);
  }
}

void ReplyBuilder::Verbatim(std::string_view format, std::string_view s) {
  if (capture_ != nullptr) {
    ReplyValue* r = Slot();
    r->kind = ReplyValue::Kind::kVerbatim;
    r->format = format.substr(0, 3);
    r->str = s;
    return Close();
  }
  if (!resp3_) {
    Bulk(s);
    return;
  }
  Header('=', static_cast<int64_t>(s.size() + 4));
  out_->append(format.substr(0, 3));
  out_->push_back(':');
  out_->append(s);
  out_->append("\r\n");
}

std::string FormatDoubleReply(double v) {
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  char buf[128];
  int n = snprintf(buf, sizeof(buf), "%.17g", v);
  return std::string(buf, static_cast<size_t>(n));
}

}  // namespace omnibus
