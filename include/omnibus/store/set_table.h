#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_set>

namespace omnibus {

// The hashtable form of a set (store/set.h): members without values.
// TEMPORARY: std::unordered_set until the shared StringMap lands on main.
// Runs on: the owning shard thread.
class SetTable {
 public:
  static SetTable* Create(size_t expected);
  static void Destroy(SetTable* t);
  SetTable* Copy() const;

  size_t size() const { return set_.size(); }
  bool Add(std::string_view member) { return set_.emplace(member).second; }
  bool Remove(std::string_view member) { return set_.erase(std::string(member)) > 0; }
  bool Contains(std::string_view member) const { return set_.contains(std::string(member)); }
  void ForEach(const std::function<void(std::string_view)>& fn) const {
    for (const std::string& m : set_) fn(m);
  }
  std::string_view Random(const std::function<uint64_t()>& rand) const;
  uint64_t Scan(uint64_t cursor, size_t count,
                const std::function<void(std::string_view)>& fn) const;

 private:
  std::unordered_set<std::string> set_;
};

}  // namespace omnibus
