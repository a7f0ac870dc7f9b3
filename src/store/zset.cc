// The zset type's storage. Small: a listpack of pairs. (The large form comes with the
// zset family.)
#include <cstdlib>

#include "omnibus/store/listpack.h"
#include "omnibus/store/object.h"

namespace omnibus {

ObjectRef NewZSet() {
  return ObjectRef{ValueType::kZSet, Encoding::kListpack, Listpack::Create().data()};
}

void FreeZSet(const ObjectRef& obj) {
  if (obj.enc == Encoding::kListpack) return Listpack(obj.ptr).Free();
  abort();
}

size_t ZSetLength(const ObjectRef& obj) {
  if (obj.enc == Encoding::kListpack) return Listpack(obj.ptr).size() / 2;
  abort();
}

ObjectRef CopyZSet(const ObjectRef& obj) {
  if (obj.enc == Encoding::kListpack) {
    return ObjectRef{obj.type, obj.enc, Listpack(obj.ptr).Copy().data()};
  }
  abort();
}

}  // namespace omnibus
