#include "omnibus/store/object.h"

#include <cstdlib>

namespace omnibus {

std::string_view TypeName(ValueType t) {
  switch (t) {
    case ValueType::kString:
      return "string";
    case ValueType::kList:
      return "list";
    case ValueType::kSet:
      return "set";
    case ValueType::kZSet:
      return "zset";
    case ValueType::kHash:
      return "hash";
  }
  return "none";
}

std::string_view EncodingName(Encoding e) {
  switch (e) {
    case Encoding::kRaw:
      return "raw";
    case Encoding::kListpack:
      return "listpack";
    case Encoding::kQuicklist:
      return "quicklist";
    case Encoding::kIntset:
      return "intset";
    case Encoding::kHashtable:
      return "hashtable";
    case Encoding::kSkiplist:
      return "skiplist";
  }
  return "unknown";
}

ObjectRef NewObject(ValueType type) {
  switch (type) {
    case ValueType::kList:
      return NewList();
    case ValueType::kHash:
      return NewHash();
    case ValueType::kSet:
      return NewSet();
    case ValueType::kZSet:
      return NewZSet();
    case ValueType::kString:
      break;
  }
  abort();  // strings are not containers
}

void FreeObject(const ObjectRef& obj) {
  switch (obj.type) {
    case ValueType::kList:
      return FreeList(obj);
    case ValueType::kHash:
      return FreeHash(obj);
    case ValueType::kSet:
      return FreeSet(obj);
    case ValueType::kZSet:
      return FreeZSet(obj);
    case ValueType::kString:
      return;
  }
}

size_t ObjectLength(const ObjectRef& obj) {
  switch (obj.type) {
    case ValueType::kList:
      return ListLength(obj);
    case ValueType::kHash:
      return HashLength(obj);
    case ValueType::kSet:
      return SetLength(obj);
    case ValueType::kZSet:
      return ZSetLength(obj);
    case ValueType::kString:
      break;
  }
  return 1;
}

ObjectRef CopyObject(const ObjectRef& obj) {
  switch (obj.type) {
    case ValueType::kList:
      return CopyList(obj);
    case ValueType::kHash:
      return CopyHash(obj);
    case ValueType::kSet:
      return CopySet(obj);
    case ValueType::kZSet:
      return CopyZSet(obj);
    case ValueType::kString:
      break;
  }
  abort();
}

}  // namespace omnibus
