// The list type's storage. Small: a listpack. (The large form comes with the
// list family.)
#include <cstdlib>

#include "omnibus/store/listpack.h"
#include "omnibus/store/object.h"

namespace omnibus {

ObjectRef NewList() {
  return ObjectRef{ValueType::kList, Encoding::kListpack, Listpack::Create().data()};
}

void FreeList(const ObjectRef& obj) {
  if (obj.enc == Encoding::kListpack) return Listpack(obj.ptr).Free();
  abort();
}

size_t ListLength(const ObjectRef& obj) {
  if (obj.enc == Encoding::kListpack) return Listpack(obj.ptr).size() / 1;
  abort();
}

ObjectRef CopyList(const ObjectRef& obj) {
  if (obj.enc == Encoding::kListpack) {
    return ObjectRef{obj.type, obj.enc, Listpack(obj.ptr).Copy().data()};
  }
  abort();
}

}  // namespace omnibus
