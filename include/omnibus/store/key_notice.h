#pragma once

// Key notices (DESIGN §10.1): what a shard tells the reactor about changes to its keys, for
// keyspace notifications (notify-keyspace-events) and client tracking. A shard records them
// only while someone listens (one relaxed load and a branch per event otherwise); they travel
// back with the Work whose execution produced them, like ready keys, and the reactor handles
// them in the sequencer's order.

#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>

namespace omnibus {

// Keyspace notification classes: Redis's NOTIFY_* bits, with its flag letters.
enum NotifyClass : uint32_t {
  kNotifyKeyspace = 1u << 0,  // K: publish on __keyspace@<db>__:<key>
  kNotifyKeyevent = 1u << 1,  // E: publish on __keyevent@<db>__:<event>
  kNotifyGeneric = 1u << 2,   // g: del, expire, rename_*, ...
  kNotifyString = 1u << 3,    // $
  kNotifyList = 1u << 4,      // l
  kNotifySet = 1u << 5,       // s
  kNotifyHash = 1u << 6,      // h
  kNotifyZset = 1u << 7,      // z
  kNotifyExpired = 1u << 8,   // x
  kNotifyEvicted = 1u << 9,   // e
  kNotifyStream = 1u << 10,   // t
  kNotifyKeyMiss = 1u << 11,  // m
  kNotifyLoaded = 1u << 12,   // modules only, no letter
  kNotifyModule = 1u << 13,   // d
  kNotifyNew = 1u << 14,      // n
  // A: every class but m and n (Redis's NOTIFY_ALL).
  kNotifyAll = kNotifyGeneric | kNotifyString | kNotifyList | kNotifySet | kNotifyHash |
               kNotifyZset | kNotifyExpired | kNotifyEvicted | kNotifyStream | kNotifyModule,
  // Ours, never in the config: client tracking listens for every change of a key (Redis's
  // signalModifiedKey), and for flushes (every key invalid).
  kNoticeModified = 1u << 30,
  // Ours: a key a script read for a caller that tracks keys (recorded whatever the mask).
  kNoticeRead = 1u << 29,
  // Ours: a command a script ran, for MONITOR (the key is the whole MONITOR line).
  kNoticeMonitor = 1u << 28,
  kNoticeFlush = 1u << 31,
};

// notify-keyspace-events: Redis's parsing (false for an unknown letter) and its CONFIG GET
// spelling.
bool ParseNotifyFlags(std::string_view text, uint32_t* flags);
std::string NotifyFlagsToString(uint32_t flags);

// Who listens: the classes a shard must record. Written by the reactor (CONFIG SET, a client
// starting or ending tracking), read by shards on every key event. A notice recorded just
// after the last listener left is simply dropped by the reactor.
struct NoticeListeners {
  std::atomic<uint32_t> mask{0};
};

struct KeyNotice {
  uint32_t cls = 0;  // one NotifyClass (or kNoticeModified / kNoticeFlush)
  int db = 0;
  const char* event = nullptr;  // a string literal: "set", "lpush", ... (null: tracking)
  std::string key;              // empty for a flush
  uint64_t seq = 0;             // process-wide order in which notices were recorded
  uint64_t dispatch = 0;        // the reactor's: dispatch of the Work that produced it
  uint64_t origin = 0;          // the reactor's: the client whose command did it (NOLOOP)
  // Active expiry: it happened after the Work of `dispatch` ran, not while it ran.
  bool after_dispatch = false;
  // The reactor's: a scattered command's parts share one dispatch; this is the place of the
  // notice's key in the command, so DEL k1 k2 k3 announces in argument order.
  uint32_t order = 0;
};

}  // namespace omnibus
