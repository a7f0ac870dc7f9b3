// Key notices on the reactor (DESIGN §10.1): shards record them while someone listens and
// send them back with the Work that produced them (or, for active expiry, on a list of their
// own); here they become keyspace notifications, published through pub/sub so patterns,
// RESP3 pushes and output limits apply, and client-tracking invalidations.
#include <algorithm>

#include "omnibus/base/str_cat.h"
#include "omnibus/net/reactor.h"
#include "omnibus/net/tracking.h"

namespace omnibus {

void Reactor::UpdateNoticeListeners() {
  if (notice_listeners_ == nullptr) return;
  const uint32_t flags = options_->notify_keyspace_events;
  uint32_t mask = 0;
  // Without K or E nothing is published, whatever the classes say.
  if (flags & (kNotifyKeyspace | kNotifyKeyevent)) {
    mask |= flags & ~(kNotifyKeyspace | kNotifyKeyevent);
  }
  if (tracking_ != nullptr && !tracking_->clients.empty()) mask |= kNoticeModified | kNoticeFlush;
  if (!monitors_.empty()) mask |= kNoticeMonitor;
  // Shards read it when they execute what is staged after this store (the queue's publish
  // orders it before them).
  notice_listeners_->mask.store(mask, std::memory_order_relaxed);
}

void Reactor::HandleNotices() {
  std::vector<KeyNotice> list;
  list.swap(notices_);
  // Rings are drained shard by shard: put the notices back in the sequencer's order, by the
  // dispatch of the work that produced them, then in the order they happened within it (a
  // parked step spans shards; a split transaction's steps carry their place instead).
  std::stable_sort(list.begin(), list.end(), [](const KeyNotice& a, const KeyNotice& b) {
    if (a.dispatch != b.dispatch) return a.dispatch < b.dispatch;
    if (a.after_dispatch != b.after_dispatch) return b.after_dispatch;
    if (a.order != b.order) return a.order < b.order;
    return a.seq < b.seq;
  });
  const uint32_t flags = options_->notify_keyspace_events;
  for (const KeyNotice& n : list) {
    if (n.cls == kNoticeModified) {
      if (tracking_ != nullptr) TrackingInvalidate(n);
    } else if (n.cls == kNoticeRead) {
      if (tracking_ != nullptr) TrackScriptRead(n);
    } else if (n.cls == kNoticeMonitor) {
      if (!monitors_.empty()) FeedMonitorLine(n.key);
    } else if (n.cls == kNoticeFlush) {
      if (tracking_ != nullptr) TrackingFlush(n);
    } else if ((flags & n.cls) && (flags & (kNotifyKeyspace | kNotifyKeyevent))) {
      PublishNotice(n);
    }
  }
  if (tracking_ != nullptr && tracking_->broadcast_pending) TrackingBroadcast();
}

void Reactor::PublishNotice(const KeyNotice& n) {
  const uint32_t flags = options_->notify_keyspace_events;
  std::string channel;
  if (flags & kNotifyKeyspace) {
    channel = StrCat("__keyspace@", n.db, "__:", n.key);
    Publish(PubSubKind::kChannel, channel, n.event);
  }
  if (flags & kNotifyKeyevent) {
    channel = StrCat("__keyevent@", n.db, "__:", n.event);
    Publish(PubSubKind::kChannel, channel, n.key);
  }
}

}  // namespace omnibus
