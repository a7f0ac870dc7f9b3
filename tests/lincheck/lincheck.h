// A linearizability checker for single-key register histories (issue 11, part 8): SET, GET,
// INCR and DEL on one Redis string key, as many concurrent clients saw them.
//
// The search is Wing & Gong's, with Lowe's memoization of (set of linearized operations,
// register state) as Knossos and Porcupine do it: walk the operations in invocation order,
// linearize any one whose call precedes every pending return and whose reply the register
// allows, backtrack when the earliest return is reached without its operation linearized.
// Linearizability is compositional (Herlihy & Wing), so a multi-key history is checked one key
// at a time (CheckPerKey).
//
// Runs on: any thread (no shared state).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace omnibus::lincheck {

enum class OpKind { kSet, kGet, kIncr, kDel };

// What the server answered. kPending: no reply ever came (the connection broke, the test ended
// first): the operation may or may not have taken effect, at any time after its invocation.
struct Outcome {
  enum class Kind { kPending, kOk, kNil, kBulk, kInt, kError };
  Kind kind = Kind::kPending;
  std::string text;     // the value of kBulk, the message of kError
  int64_t integer = 0;  // kInt

  static Outcome Pending() { return {}; }
  static Outcome Ok() { return {Kind::kOk, "", 0}; }
  static Outcome Nil() { return {Kind::kNil, "", 0}; }
  static Outcome Bulk(std::string value) { return {Kind::kBulk, std::move(value), 0}; }
  static Outcome Int(int64_t n) { return {Kind::kInt, "", n}; }
  static Outcome Error(std::string message) { return {Kind::kError, std::move(message), 0}; }
};

// One operation of a history. Times are steady-clock nanoseconds: `invoke_ns` no later than
// the request left the client, `complete_ns` no earlier than its reply arrived (widening the
// window is always sound; narrowing it is not).
struct Operation {
  int client = 0;
  std::string key;
  OpKind kind = OpKind::kGet;
  std::string value;  // the argument of SET
  Outcome outcome;
  int64_t invoke_ns = 0;
  int64_t complete_ns = 0;  // ignored while pending
  // The operation's place in its client's program, or -1. Redis executes one connection's
  // commands in the order sent, so operations of one client with seq >= 0 must also be
  // linearized in seq order, even when their windows overlap (a pipeline's commands share
  // one invocation time). Plain linearizability cannot see a pipelined `SET k v; GET k`
  // reading an older value; with seq the checker can. (Checked per key, this is a necessary
  // condition of the whole history's, so a violation found is a real one.)
  int64_t seq = -1;
};

struct CheckResult {
  enum class Verdict { kLinearizable, kViolation, kGaveUp };
  Verdict verdict = Verdict::kLinearizable;
  std::string key;
  size_t operations = 0;
  size_t configurations = 0;  // distinct (linearized set, state) pairs the search visited
  // For kViolation: the operation that could not be linearized at the deepest point the search
  // reached, the register's value there, and the operations concurrent with it.
  std::optional<size_t> culprit;  // index into the checked span
  std::string witness;

  bool ok() const { return verdict == Verdict::kLinearizable; }
};

struct CheckOptions {
  // The search gives up (kGaveUp) after visiting this many configurations. Histories of a few
  // thousand operations with tens of clients stay far below it.
  size_t max_configurations = 2'000'000;
  // At most this many concurrent operations are listed in a witness.
  size_t max_witness_ops = 12;
};

// Checks a history of one key (every operation's `key` is ignored). The register starts absent
// (nil) unless `initial` is given.
CheckResult CheckRegister(std::span<const Operation> ops,
                          std::optional<std::string> initial = std::nullopt,
                          const CheckOptions& options = {});

// Splits `ops` by key and checks each key's history; one result per key, in key order.
std::vector<CheckResult> CheckPerKey(std::span<const Operation> ops,
                                     const CheckOptions& options = {});

// A one-line rendering for messages, e.g. `c3 GET -> "17" [120.5us, 131.0us]` (times relative
// to `origin_ns`).
std::string Describe(const Operation& op, int64_t origin_ns = 0);

}  // namespace omnibus::lincheck
