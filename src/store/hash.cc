// The hash type's storage. Small: a listpack of pairs. (The large form comes with the
// hash family.)
#include <cstdlib>

#include "omnibus/store/listpack.h"
#include "omnibus/store/object.h"

namespace omnibus {

ObjectRef NewHash() {
  return ObjectRef{ValueType::kHash, Encoding::kListpack, Listpack::Create().data()};
}

void FreeHash(const ObjectRef& obj) {
  if (obj.enc == Encoding::kListpack) return Listpack(obj.ptr).Free();
  abort();
}

size_t HashLength(const ObjectRef& obj) {
  if (obj.enc == Encoding::kListpack) return Listpack(obj.ptr).size() / 2;
  abort();
}

ObjectRef CopyHash(const ObjectRef& obj) {
  if (obj.enc == Encoding::kListpack) {
    return ObjectRef{obj.type, obj.enc, Listpack(obj.ptr).Copy().data()};
  }
  abort();
}

}  // namespace omnibus
