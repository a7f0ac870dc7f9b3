#include "omnibus/store/set_table.h"

#include <iterator>

#include "omnibus/store/memory.h"

namespace omnibus {

SetTable* SetTable::Create(size_t expected) {
  SetTable* t = StoreNew<SetTable>();
  t->set_.reserve(expected);
  return t;
}

void SetTable::Destroy(SetTable* t) { StoreDelete(t); }

SetTable* SetTable::Copy() const {
  SetTable* t = StoreNew<SetTable>();
  t->set_ = set_;
  return t;
}

std::string_view SetTable::Random(const std::function<uint64_t()>& rand) const {
  auto it = set_.begin();
  std::advance(it, static_cast<ptrdiff_t>(rand() % set_.size()));
  return *it;
}

uint64_t SetTable::Scan(uint64_t cursor, size_t count,
                        const std::function<void(std::string_view)>& fn) const {
  auto it = set_.begin();
  if (cursor >= set_.size()) return 0;
  std::advance(it, static_cast<ptrdiff_t>(cursor));
  for (size_t i = 0; i < count && it != set_.end(); ++i, ++it, ++cursor) fn(*it);
  return it == set_.end() ? 0 : cursor;
}

}  // namespace omnibus
