// The set type's storage. Small: a listpack. (The large form comes with the
// set family.)
#include <cstdlib>

#include "omnibus/store/listpack.h"
#include "omnibus/store/object.h"

namespace omnibus {

ObjectRef NewSet() {
  return ObjectRef{ValueType::kSet, Encoding::kListpack, Listpack::Create().data()};
}

void FreeSet(const ObjectRef& obj) {
  if (obj.enc == Encoding::kListpack) return Listpack(obj.ptr).Free();
  abort();
}

size_t SetLength(const ObjectRef& obj) {
  if (obj.enc == Encoding::kListpack) return Listpack(obj.ptr).size() / 1;
  abort();
}

ObjectRef CopySet(const ObjectRef& obj) {
  if (obj.enc == Encoding::kListpack) {
    return ObjectRef{obj.type, obj.enc, Listpack(obj.ptr).Copy().data()};
  }
  abort();
}

}  // namespace omnibus
