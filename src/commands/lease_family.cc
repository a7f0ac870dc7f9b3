// Leases against miss stampedes, an Omnibus extension (docs/leases.md): LEASE.GET LEASE.SET
// LEASE.RELEASE LEASE.INVALIDATE. After memcached's meta-protocol leases: the first client to
// miss a key wins a lease (a token) and recomputes the value; the others wait for its
// LEASE.SET (bounded by WAIT), or get the stale value the key had before LEASE.INVALIDATE, or
// a hint of when to retry. Lease state lives on the key's shard (store/lease_table.h); a
// LEASE.GET that waits is a blocked client (DESIGN §10.5) woken by the key's write, the lease
// ending, or its own deadline.
// Runs on: shard threads.
#include <algorithm>
#include <climits>

#include "omnibus/base/str_cat.h"
#include "omnibus/base/strings.h"
#include "omnibus/commands/command_table.h"
#include "omnibus/commands/version.h"
#include "omnibus/store/lease_table.h"

namespace omnibus {
namespace {

using Args = std::span<const std::string_view>;

constexpr std::string_view kInvalidToken = "ERR invalid lease token";
// Longer waits are this long (about 290 million years).
constexpr int64_t kMaxWaitMs = int64_t{1} << 53;

// LEASE.GET's options after `key lease-ms`: [WAIT ms]. Returns false after replying an error
// (when `rb` is set).
bool ParseGetOptions(Args args, int64_t* wait_ms, ReplyBuilder* rb) {
  *wait_ms = 0;
  for (size_t i = 3; i < args.size(); ++i) {
    if (EqualsIgnoreCase(args[i], "WAIT") && i + 1 < args.size()) {
      int64_t ms;
      if (!ParseInt64(args[++i], &ms)) {
        if (rb != nullptr) ReplyStatus(rb, OpStatus::kNotAnInteger);
        return false;
      }
      if (ms < 0) {
        if (rb != nullptr) rb->Error("ERR timeout is negative");
        return false;
      }
      *wait_ms = ms;
    } else {
      if (rb != nullptr) ReplyStatus(rb, OpStatus::kSyntaxError);
      return false;
    }
  }
  return true;
}

// The reactor's question (CommandSpec::wait_fn): may this LEASE.GET wait, and how long?
bool LeaseGetWait(Args args, int64_t* wait_ms) {
  if (args.size() < 3 || !ParseGetOptions(args, wait_ms, nullptr) || *wait_ms == 0) return false;
  *wait_ms = std::min(*wait_ms, kMaxWaitMs);  // a deadline that cannot overflow the clock
  return true;
}

bool ParseToken(std::string_view arg, uint64_t* token, ReplyBuilder* rb) {
  int64_t v;
  if (!ParseInt64(arg, &v) || v <= 0) {
    rb->Error(kInvalidToken);
    return false;
  }
  *token = static_cast<uint64_t>(v);
  return true;
}

// Every LEASE.GET reply: [status, value, token, ms] (see docs/leases.md).
void ReplyLease(ReplyBuilder* rb, std::string_view status, std::optional<std::string_view> value,
                uint64_t token, int64_t ms) {
  rb->Array(4);
  rb->SimpleString(status);
  if (value) {
    rb->Bulk(*value);
  } else {
    rb->Null();
  }
  if (token != 0) {
    rb->Integer(static_cast<int64_t>(token));
  } else {
    rb->Null();
  }
  rb->Integer(ms);
}

// LEASE.GET key lease-ms [WAIT ms]
void LeaseGet(ExecContext& ctx) {
  std::string_view key = ctx.args[1];
  int64_t lease_ms;
  if (!ArgToInt64(ctx.args[2], &lease_ms, ctx.reply)) return;
  if (lease_ms <= 0) {
    return ctx.reply->Error("ERR invalid lease time in 'lease.get' command");
  }
  int64_t wait_ms;
  if (!ParseGetOptions(ctx.args, &wait_ms, ctx.reply)) return;
  Db& db = ctx.DbFor(key);
  auto found = db.FindTyped(key, ValueType::kString);
  if (!found.ok()) return ReplyStatus(ctx.reply, found.status());
  if (*found) {
    Record* r = found->get();
    ReplyLease(ctx.reply, "hit", r->value(), 0,
               r->has_expire() ? std::max<int64_t>(r->expire_at_ms() - db.now_ms(), 0) : -1);
    return;
  }
  LeaseTable& leases = db.leases();
  LeaseTable::Acquired a = leases.Acquire(key, lease_ms, db.now_ms());
  if (a.won) return ReplyLease(ctx.reply, "win", a.stale, a.token, a.remaining_ms);
  if (a.stale) return ReplyLease(ctx.reply, "stale", a.stale, 0, a.remaining_ms);
  if (ctx.may_block) {  // WAIT given, not inside MULTI or a script, and no final look
    leases.AddWaiter(key);
    ctx.would_block = true;
    // Ask again when the holder's lease runs out: then this client may win it.
    ctx.wait_hint_ms = a.remaining_ms;
    return;
  }
  ReplyLease(ctx.reply, "retry", std::nullopt, 0, a.remaining_ms);
}

// LEASE.SET key token value [EX seconds | PX milliseconds]
void LeaseSet(ExecContext& ctx) {
  std::string_view key = ctx.args[1];
  uint64_t token;
  if (!ParseToken(ctx.args[2], &token, ctx.reply)) return;
  std::string_view unit;
  std::string_view amount;
  for (size_t i = 4; i < ctx.args.size(); ++i) {
    std::string_view opt = ctx.args[i];
    if ((EqualsIgnoreCase(opt, "EX") || EqualsIgnoreCase(opt, "PX")) && unit.empty() &&
        i + 1 < ctx.args.size()) {
      unit = opt;
      amount = ctx.args[++i];
    } else {
      return ReplyStatus(ctx.reply, OpStatus::kSyntaxError);
    }
  }
  Db& db = ctx.DbFor(key);
  int64_t expire_at_ms = -1;
  if (!unit.empty()) {
    int64_t v;
    if (!ArgToInt64(amount, &v, ctx.reply)) return;
    bool seconds = EqualsIgnoreCase(unit, "EX");
    if (v <= 0 || (seconds && v > LLONG_MAX / 1000) ||
        (seconds ? v * 1000 : v) > LLONG_MAX - db.now_ms()) {
      return ctx.reply->Error("ERR invalid expire time in 'lease.set' command");
    }
    expire_at_ms = db.now_ms() + (seconds ? v * 1000 : v);
  }
  LeaseTable* leases = db.leases_if_any();
  if (leases == nullptr || !leases->IsLive(key, token, db.now_ms())) {
    return ctx.reply->Integer(0);
  }
  // The write passes the choke point, which ends the lease and wakes the waiters.
  db.SetString(key, ctx.args[3], expire_at_ms);
  ctx.reply->Integer(1);
}

// LEASE.RELEASE key token
void LeaseRelease(ExecContext& ctx) {
  std::string_view key = ctx.args[1];
  uint64_t token;
  if (!ParseToken(ctx.args[2], &token, ctx.reply)) return;
  Db& db = ctx.DbFor(key);
  LeaseTable* leases = db.leases_if_any();
  bool wake = false;
  bool released = leases != nullptr && leases->Release(key, token, db.now_ms(), &wake);
  if (wake) db.SignalReady(key);  // the next waiter may win the lease now
  ctx.reply->Integer(released ? 1 : 0);
}

// LEASE.INVALIDATE key [stale-ms]
void LeaseInvalidate(ExecContext& ctx) {
  std::string_view key = ctx.args[1];
  if (ctx.args.size() > 3) return ReplyStatus(ctx.reply, OpStatus::kSyntaxError);
  int64_t stale_ms = 0;
  if (ctx.args.size() == 3) {
    if (!ArgToInt64(ctx.args[2], &stale_ms, ctx.reply)) return;
    if (stale_ms < 0) {
      return ctx.reply->Error("ERR invalid stale time in 'lease.invalidate' command");
    }
  }
  Db& db = ctx.DbFor(key);
  auto found = db.FindTyped(key, ValueType::kString);
  if (!found.ok()) return ReplyStatus(ctx.reply, found.status());
  const bool had = static_cast<bool>(*found);
  std::optional<std::string> value;
  if (had) {
    if (stale_ms > 0) value.emplace((*found)->value());
    db.Delete(*found);  // an event of the key: forgets any earlier lease state
  }
  LeaseTable* leases = value ? &db.leases() : db.leases_if_any();
  if (leases != nullptr &&
      leases->Invalidate(key, value ? std::optional<std::string_view>(*value) : std::nullopt,
                         stale_ms, db.now_ms())) {
    db.SignalReady(key);
  }
  ctx.reply->Integer(had ? 1 : 0);
}

CommandDoc Doc(std::string_view summary, std::string_view complexity, std::string_view args) {
  return CommandDoc{summary, kOmnibusVersion, "generic", complexity, args};  // since: ours
}

}  // namespace

std::vector<CommandSpec> LeaseFamily() {
  CommandSpec get = BlockingCommand(
      "lease.get", -3, kCmdWrite | kCmdBlocking, "@write @string @slow @blocking", 1, 1, LeaseGet,
      0,
      Doc("Omnibus extension: get a string, or a lease to recompute it when it is missing "
          "(waits up to WAIT ms for another client's recompute)",
          "O(1)", "key:key{key_flags=RW+access+insert} lease-ms:integer [ms:integer:WAIT]"));
  get.wait_fn = LeaseGetWait;
  return {
      get,
      {"lease.set", -4, kCmdWrite | kCmdDenyOom, "@write @string @slow", 1, 1, 1, Route::kKey,
       LeaseSet, nullptr, nullptr, nullptr,
       Doc("Omnibus extension: set a string if the lease token is still the key's live lease",
           "O(1)",
           "key:key{key_flags=OW+update} token:integer value:string "
           "[expiration:oneof(seconds:integer:EX|milliseconds:integer:PX)]")},
      {"lease.release", 3, kCmdWrite | kCmdFast, "@write @string @fast", 1, 1, 1, Route::kKey,
       LeaseRelease, nullptr, nullptr, nullptr,
       Doc("Omnibus extension: give up a lease without setting the key", "O(1)",
           "key:key{key_flags=RW+update} token:integer")},
      {"lease.invalidate", -2, kCmdWrite | kCmdFast, "@write @string @fast", 1, 1, 1, Route::kKey,
       LeaseInvalidate, nullptr, nullptr, nullptr,
       Doc("Omnibus extension: delete a string, keeping its value as stale for stale-ms while a "
           "lease holder recomputes it",
           "O(1)", "key:key{key_flags=RW+delete} [stale-ms:integer]")},
  };
}

}  // namespace omnibus
