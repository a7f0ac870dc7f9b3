#pragma once

#include <cstddef>

#include "omnibus/store/record.h"

namespace omnibus {

// What every container type (list, hash, set, zset) provides to the keyspace, dispatched on
// ObjectRef::type. Each type implements its four functions in its own store file
// (list.cc, hash.cc, set.cc, zset.cc); object.cc only dispatches.
//
// Ownership follows the record (DESIGN §10.2): the record that holds an ObjectRef owns it, and
// FreeRecord frees it; RENAME/MOVE hand it to a new record without copying (FreeRecordShell).

// A new empty container of `type`, in its small encoding.
ObjectRef NewObject(ValueType type);
// Frees the container and everything it owns.
void FreeObject(const ObjectRef& obj);
// Number of elements (fields, members). A container that reaches 0 is deleted with its key.
size_t ObjectLength(const ObjectRef& obj);
// A deep copy in the same encoding (COPY).
ObjectRef CopyObject(const ObjectRef& obj);

// MEMORY USAGE: the bytes the allocator holds for the container (real block sizes), with
// the elements of a large form estimated from the first `samples` of them (0: all of them),
// as Redis's objectComputeSize does (store/memory_usage.cc).
size_t ObjectMemoryUsage(const ObjectRef& obj, size_t samples);

// The per-type implementations object.cc dispatches to.
ObjectRef NewList();
void FreeList(const ObjectRef& obj);
size_t ListLength(const ObjectRef& obj);
ObjectRef CopyList(const ObjectRef& obj);

ObjectRef NewHash();
void FreeHash(const ObjectRef& obj);
size_t HashLength(const ObjectRef& obj);
ObjectRef CopyHash(const ObjectRef& obj);

ObjectRef NewSet();
void FreeSet(const ObjectRef& obj);
size_t SetLength(const ObjectRef& obj);
ObjectRef CopySet(const ObjectRef& obj);

ObjectRef NewZSet();
void FreeZSet(const ObjectRef& obj);
size_t ZSetLength(const ObjectRef& obj);
ObjectRef CopyZSet(const ObjectRef& obj);
size_t ZSetSkiplistMemoryUsage(const ObjectRef& obj, size_t samples);  // zset.cc

}  // namespace omnibus
