#include "lincheck/lincheck.h"

#include <algorithm>
#include <cstdio>
#include <limits>
#include <map>
#include <string_view>
#include <tuple>
#include <unordered_map>

#include "omnibus/base/strings.h"

namespace omnibus::lincheck {
namespace {

constexpr int kNil = -1;      // the register holds no value
constexpr int kInvalid = -2;  // the operation's reply is impossible in this state

uint64_t Mix(uint64_t x) {  // splitmix64's finalizer
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// Register values interned to small integers, so a state compares and hashes as an int.
class Values {
 public:
  int Intern(const std::string& v) {
    auto [it, fresh] = ids_.try_emplace(v, static_cast<int>(texts_.size()));
    if (fresh) {
      texts_.push_back(v);
      incr_.push_back(kUnknown);
    }
    return it->second;
  }
  std::string Render(int id) const {
    if (id == kNil) return "(nil)";
    return "\"" + texts_[id] + "\"";
  }
  // The state after INCR, or kInvalid when INCR answers an error (not an integer, overflow).
  int IncrOf(int id) {
    if (id == kNil) return Intern("1");
    if (incr_[id] != kUnknown) return incr_[id];
    int64_t n = 0;
    int next = kInvalid;
    if (ParseInt64(texts_[id], &n) && n != std::numeric_limits<int64_t>::max()) {
      next = Intern(std::to_string(n + 1));
    }
    incr_[id] = next;  // Intern may have grown incr_: index again
    return next;
  }

 private:
  static constexpr int kUnknown = -3;
  std::unordered_map<std::string, int> ids_;
  std::vector<std::string> texts_;
  std::vector<int> incr_;
};

// An operation reduced to what the search compares.
struct Step {
  OpKind kind;
  Outcome::Kind outcome;
  int arg = kNil;     // SET's value
  int result = kNil;  // GET's bulk value, INCR's integer as a value
  int64_t integer = 0;
  bool pending = false;
  // True when the operation leaves every state it is valid in unchanged (a read, DEL of an
  // absent key, a failing INCR). Such an operation, once valid at the current point of the
  // search, can always be linearized right there: moving it earlier changes no state and
  // breaks no real-time order (everything that returned before its invocation is already
  // linearized). So the search takes it greedily and never tries the alternatives.
  bool identity = false;
};

// The state after `s` from `state`, or kInvalid.
int Apply(const Step& s, int state, Values& values) {
  switch (s.kind) {
    case OpKind::kGet:
      if (s.pending) return state;
      if (s.outcome == Outcome::Kind::kNil) return state == kNil ? state : kInvalid;
      if (s.outcome == Outcome::Kind::kBulk) return state == s.result ? state : kInvalid;
      return kInvalid;
    case OpKind::kSet:
      return s.pending || s.outcome == Outcome::Kind::kOk ? s.arg : kInvalid;
    case OpKind::kIncr: {
      int next = values.IncrOf(state);
      if (s.pending) return next == kInvalid ? state : next;
      if (s.outcome == Outcome::Kind::kInt)
        return next != kInvalid && next == s.result ? next : kInvalid;
      if (s.outcome == Outcome::Kind::kError) return next == kInvalid ? state : kInvalid;
      return kInvalid;
    }
    case OpKind::kDel:
      if (s.pending) return kNil;
      if (s.outcome != Outcome::Kind::kInt) return kInvalid;
      if (s.integer == 1) return state != kNil ? kNil : kInvalid;
      if (s.integer == 0) return state == kNil ? kNil : kInvalid;
      return kInvalid;
  }
  return kInvalid;
}

// Visited (linearized set, state) configurations: open addressing over an arena. The search
// numbers operations by invocation, so a linearized set is "all below some index" plus a window
// about as wide as the concurrency: only that window is stored (whole bitsets of a 50,000
// operation history would take hundreds of megabytes).
class ConfigCache {
 public:
  ConfigCache() : slots_(1024) {}

  // True if the configuration was not there yet (it is now).
  bool Insert(const std::vector<uint64_t>& bits, int state, uint64_t hash) {
    size_t low = 0, high = bits.size();
    while (low < high && bits[low] == ~uint64_t{0}) ++low;
    while (high > low && bits[high - 1] == 0) --high;
    const uint64_t* window = bits.data() + low;
    const uint32_t len = static_cast<uint32_t>(high - low);
    if ((size_ + 1) * 2 > slots_.size()) Grow();
    size_t mask = slots_.size() - 1;
    for (size_t i = hash & mask;; i = (i + 1) & mask) {
      Slot& slot = slots_[i];
      if (slot.offset == kEmpty) {
        slot = {hash, arena_.size(), state, static_cast<uint32_t>(low), len};
        arena_.insert(arena_.end(), window, window + len);
        ++size_;
        return true;
      }
      if (slot.hash == hash && slot.state == state && slot.low == low && slot.len == len &&
          std::equal(window, window + len, arena_.begin() + slot.offset)) {
        return false;
      }
    }
  }
  size_t size() const { return size_; }

 private:
  static constexpr uint64_t kEmpty = std::numeric_limits<uint64_t>::max();
  struct Slot {
    uint64_t hash = 0;
    uint64_t offset = kEmpty;
    int state = 0;
    uint32_t low = 0;  // words below are all ones
    uint32_t len = 0;  // words stored; those above are all zeros
  };

  void Grow() {
    std::vector<Slot> old(slots_.size() * 2);
    old.swap(slots_);
    size_t mask = slots_.size() - 1;
    for (const Slot& s : old) {
      if (s.offset == kEmpty) continue;
      size_t i = s.hash & mask;
      while (slots_[i].offset != kEmpty) i = (i + 1) & mask;
      slots_[i] = s;
    }
  }

  std::vector<Slot> slots_;
  std::vector<uint64_t> arena_;
  size_t size_ = 0;
};

std::string Quote(std::string_view v) {
  constexpr size_t kMax = 40;
  std::string out = "\"";
  out.append(v.substr(0, kMax));
  if (v.size() > kMax) out += "...";
  return out + "\"";
}

std::string Micros(int64_t ns) {
  char buf[32];
  snprintf(buf, sizeof buf, "%.1fus", static_cast<double>(ns) / 1000.0);
  return buf;
}

}  // namespace

std::string Describe(const Operation& op, int64_t origin_ns) {
  std::string out = "c" + std::to_string(op.client) + " ";
  switch (op.kind) {
    case OpKind::kSet:
      out += "SET " + Quote(op.value);
      break;
    case OpKind::kGet:
      out += "GET";
      break;
    case OpKind::kIncr:
      out += "INCR";
      break;
    case OpKind::kDel:
      out += "DEL";
      break;
  }
  out += " -> ";
  const Outcome& o = op.outcome;
  switch (o.kind) {
    case Outcome::Kind::kPending:
      out += "(pending)";
      break;
    case Outcome::Kind::kOk:
      out += "OK";
      break;
    case Outcome::Kind::kNil:
      out += "(nil)";
      break;
    case Outcome::Kind::kBulk:
      out += Quote(o.text);
      break;
    case Outcome::Kind::kInt:
      out += "(integer) " + std::to_string(o.integer);
      break;
    case Outcome::Kind::kError:
      out += "(error) " + o.text;
      break;
  }
  out += " [" + Micros(op.invoke_ns - origin_ns) + ", ";
  out += o.kind == Outcome::Kind::kPending ? std::string("pending")
                                           : Micros(op.complete_ns - origin_ns);
  return out + "]";
}

namespace {

// CheckRegister on operations sorted by invocation time.
CheckResult CheckSorted(std::span<const Operation> ops, std::optional<std::string> initial,
                        const CheckOptions& options) {
  CheckResult result;
  result.operations = ops.size();
  if (!ops.empty()) result.key = ops.front().key;
  const size_t n = ops.size();

  Values values;
  std::vector<Step> steps(n);
  size_t completed_left = 0;
  for (size_t i = 0; i < n; ++i) {
    const Operation& op = ops[i];
    Step& s = steps[i];
    s.kind = op.kind;
    s.outcome = op.outcome.kind;
    s.pending = op.outcome.kind == Outcome::Kind::kPending;
    s.integer = op.outcome.integer;
    if (op.kind == OpKind::kSet) s.arg = values.Intern(op.value);
    if (s.outcome == Outcome::Kind::kBulk) s.result = values.Intern(op.outcome.text);
    if (op.kind == OpKind::kIncr && s.outcome == Outcome::Kind::kInt) {
      s.result = values.Intern(std::to_string(op.outcome.integer));
    }
    s.identity = op.kind == OpKind::kGet ||
                 (op.kind == OpKind::kDel && s.outcome == Outcome::Kind::kInt && s.integer == 0) ||
                 (op.kind == OpKind::kIncr && s.outcome == Outcome::Kind::kError);
    if (!s.pending) ++completed_left;
  }

  // The event list: a call and (unless pending) a return per operation, by time. At equal
  // times calls come first, which makes the two operations concurrent: the weaker claim.
  // Entry 0 is the head, entry 1 the tail; doubly linked so that linearizing an operation
  // unlinks its two entries and backtracking relinks them (dancing links).
  struct Event {
    int64_t time;
    bool is_return;
    size_t op;
  };
  std::vector<Event> events;
  events.reserve(2 * n);
  for (size_t i = 0; i < n; ++i) {
    events.push_back({ops[i].invoke_ns, false, i});
    if (!steps[i].pending) {
      events.push_back({std::max(ops[i].complete_ns, ops[i].invoke_ns), true, i});
    }
  }
  std::sort(events.begin(), events.end(), [](const Event& a, const Event& b) {
    return std::tie(a.time, a.is_return, a.op) < std::tie(b.time, b.is_return, b.op);
  });
  const int kHead = 0, kTail = 1;
  const size_t entries = events.size() + 2;
  std::vector<int> next(entries), prev(entries), match(entries, -1);
  std::vector<size_t> op_of(entries, 0);
  std::vector<bool> is_call(entries, false);
  std::vector<int> call_entry(n, -1);
  int last = kHead;
  for (size_t e = 0; e < events.size(); ++e) {
    int id = static_cast<int>(e) + 2;
    op_of[id] = events[e].op;
    is_call[id] = !events[e].is_return;
    if (is_call[id]) {
      call_entry[events[e].op] = id;
    } else {
      match[call_entry[events[e].op]] = id;
    }
    next[last] = id;
    prev[id] = last;
    last = id;
  }
  next[last] = kTail;
  prev[kTail] = last;

  auto unlink = [&](int e) {
    next[prev[e]] = next[e];
    prev[next[e]] = prev[e];
  };
  auto relink = [&](int e) {
    next[prev[e]] = e;
    prev[next[e]] = e;
  };

  std::vector<uint64_t> zobrist(n);
  for (size_t i = 0; i < n; ++i) zobrist[i] = Mix(i * 2 + 1);
  const size_t words = (n + 63) / 64;
  std::vector<uint64_t> bits(words, 0);
  uint64_t hash = 0;
  ConfigCache cache;

  // A point of the search: the operations that may be linearized next, in the order they are
  // tried, and how many were tried. `taken` is the call entry linearized to get here from the
  // frame below (-1 for the root), `state_before` the state before it.
  struct Frame {
    int taken;
    int state_before;
    std::vector<int> candidates;
    size_t tried = 0;
  };
  std::vector<Frame> stack;
  int state = initial ? values.Intern(*initial) : kNil;

  // Program order: the operation of the same client just before each one (-1: none).
  std::vector<int64_t> before_in_client(n, -1);
  {
    std::map<int, std::vector<std::pair<int64_t, size_t>>> by_client;
    for (size_t i = 0; i < n; ++i) {
      if (ops[i].seq >= 0) by_client[ops[i].client].push_back({ops[i].seq, i});
    }
    for (auto& [client, program] : by_client) {
      std::sort(program.begin(), program.end());
      for (size_t k = 1; k < program.size(); ++k) {
        before_in_client[program[k].second] = static_cast<int64_t>(program[k - 1].second);
      }
    }
  }
  auto linearized = [&](int64_t op) {
    return op < 0 || (bits[static_cast<size_t>(op) / 64] >> (op % 64) & 1) != 0;
  };

  std::vector<int64_t> return_time(n, std::numeric_limits<int64_t>::max());
  for (const Event& e : events) {
    if (e.is_return) return_time[e.op] = e.time;
  }

  // The deepest failure seen: the witness.
  size_t best_depth = 0;
  bool have_best = false;
  size_t best_op = 0;
  int best_state = kNil;
  std::optional<size_t> best_last;

  auto toggle = [&](size_t op) {
    bits[op / 64] ^= uint64_t{1} << (op % 64);
    hash ^= zobrist[op];
  };
  auto state_hash = [&](int s) { return hash ^ Mix(static_cast<uint64_t>(s) + 0x51ed27ULL); };
  // The operations that may come next: those invoked before the earliest return still in the
  // list. A valid identity operation alone (see Step::identity). Otherwise all of them, the
  // earliest to return first: that one must be linearized before its return while the others
  // may wait, so for most linearizable histories the first choice is right (Lowe's
  // just-in-time linearization, used as an order rather than a restriction). Trying calls in
  // invocation order instead, as plain WGL does, linearizes blind writes early and explores
  // millions of configurations on a hot key with a few dozen clients.
  auto gather = [&](std::vector<int>& out) {
    out.clear();
    for (int e = next[kHead]; e != kTail && is_call[e]; e = next[e]) {
      size_t op = op_of[e];
      if (!linearized(before_in_client[op])) continue;
      if (steps[op].identity && Apply(steps[op], state, values) != kInvalid) {
        out.assign(1, e);
        return;
      }
      out.push_back(e);
    }
    std::sort(out.begin(), out.end(), [&](int a, int b) {
      return std::tie(return_time[op_of[a]], a) < std::tie(return_time[op_of[b]], b);
    });
  };
  auto record_failure = [&]() {
    size_t depth = stack.size() - 1;
    if (have_best && depth <= best_depth) return;
    int e = next[kHead];
    while (is_call[e]) e = next[e];  // the earliest return: its operation could not be placed
    have_best = true;
    best_depth = depth;
    best_op = op_of[e];
    best_state = state;
    int taken = stack.back().taken;
    best_last = taken < 0 ? std::nullopt : std::optional<size_t>(op_of[taken]);
  };

  // The deepest failure, the operation that could not be placed there, and what overlaps it.
  auto explain = [&]() {
    const Operation& culprit = ops[best_op];
    int64_t origin = ops.front().invoke_ns;
    for (const Operation& op : ops) origin = std::min(origin, op.invoke_ns);
    std::string w = "key " + Quote(result.key) + ": " + Describe(culprit, origin) +
                    " cannot be linearized: after the longest linearizable prefix (" +
                    std::to_string(best_depth) + " of " + std::to_string(n) +
                    " operations) the register holds " + values.Render(best_state);
    if (best_last) w += " (last linearized: " + Describe(ops[*best_last], origin) + ")";
    auto ends = [](const Operation& op) {
      return op.outcome.kind == Outcome::Kind::kPending ? std::numeric_limits<int64_t>::max()
                                                        : op.complete_ns;
    };
    std::vector<size_t> concurrent;
    for (size_t i = 0; i < n; ++i) {
      if (i == best_op) continue;
      if (ops[i].invoke_ns <= ends(culprit) && culprit.invoke_ns <= ends(ops[i])) {
        concurrent.push_back(i);
      }
    }
    std::sort(concurrent.begin(), concurrent.end(),
              [&](size_t a, size_t b) { return ops[a].invoke_ns < ops[b].invoke_ns; });
    w += ". Concurrent with it: ";
    if (concurrent.empty()) w += "nothing";
    for (size_t i = 0; i < concurrent.size() && i < options.max_witness_ops; ++i) {
      if (i > 0) w += "; ";
      w += Describe(ops[concurrent[i]], origin);
    }
    if (concurrent.size() > options.max_witness_ops) {
      w += "; and " + std::to_string(concurrent.size() - options.max_witness_ops) + " more";
    }
    return w;
  };

  stack.push_back({-1, state, {}, 0});
  gather(stack.back().candidates);
  bool linearizable = completed_left == 0;
  while (!linearizable) {
    if (cache.size() > options.max_configurations) {
      result.verdict = CheckResult::Verdict::kGaveUp;
      result.configurations = cache.size();
      result.witness = "gave up after " + std::to_string(cache.size()) + " configurations";
      if (have_best) result.witness += "; the deepest point reached: " + explain();
      return result;
    }
    Frame& frame = stack.back();
    if (frame.tried == frame.candidates.size()) {
      // Every choice from here failed: undo the one that led here. (While a completed operation
      // is unlinearized, its return entry is in the list, so record_failure finds one.)
      record_failure();
      if (frame.taken < 0) break;
      int e = frame.taken;
      size_t op = op_of[e];
      if (match[e] >= 0) relink(match[e]);
      relink(e);
      toggle(op);
      state = frame.state_before;
      if (!steps[op].pending) ++completed_left;
      stack.pop_back();
      continue;
    }
    int e = frame.candidates[frame.tried++];
    size_t op = op_of[e];
    int after = Apply(steps[op], state, values);
    if (after == kInvalid) continue;
    toggle(op);
    if (!cache.Insert(bits, after, state_hash(after))) {  // visited before, and failed
      toggle(op);
      continue;
    }
    unlink(e);
    if (match[e] >= 0) unlink(match[e]);
    int before = state;
    state = after;
    if (!steps[op].pending && --completed_left == 0) {
      linearizable = true;  // the pending operations left may all be left out
      break;
    }
    stack.push_back({e, before, {}, 0});
    gather(stack.back().candidates);
  }
  result.configurations = cache.size();
  if (linearizable) return result;

  result.verdict = CheckResult::Verdict::kViolation;
  result.culprit = best_op;
  result.witness = explain();
  return result;
}

}  // namespace

CheckResult CheckRegister(std::span<const Operation> ops, std::optional<std::string> initial,
                          const CheckOptions& options) {
  std::vector<size_t> order(ops.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return ops[a].invoke_ns < ops[b].invoke_ns; });
  std::vector<Operation> sorted;
  sorted.reserve(ops.size());
  for (size_t i : order) sorted.push_back(ops[i]);
  CheckResult result = CheckSorted(sorted, std::move(initial), options);
  if (result.culprit) result.culprit = order[*result.culprit];
  return result;
}

std::vector<CheckResult> CheckPerKey(std::span<const Operation> ops, const CheckOptions& options) {
  std::map<std::string, std::vector<Operation>> by_key;
  for (const Operation& op : ops) by_key[op.key].push_back(op);
  std::vector<CheckResult> results;
  for (auto& [key, history] : by_key) {
    results.push_back(CheckRegister(history, std::nullopt, options));
    results.back().key = key;
  }
  return results;
}

}  // namespace omnibus::lincheck
