#include "omnibus/store/lazy_free.h"

#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <utility>

#include "omnibus/store/memory.h"
#include "omnibus/store/object.h"
#include "omnibus/store/quicklist.h"
#include "omnibus/store/table.h"

namespace omnibus {
namespace {

std::atomic<int64_t> pending_objects{0};
std::atomic<int64_t> freed_objects{0};

// One value or one flushed table to free, and the count its bytes go back to.
struct Job {
  Record* record = nullptr;
  std::unique_ptr<Table> table;
  int64_t objects = 0;
  std::shared_ptr<std::atomic<int64_t>> owner;
};

// The background thread (Redis's BIO_LAZY_FREE): a queue, drained in order. Never destroyed
// (a static destructor would race with shard threads still handing off at exit).
class LazyFreer {
 public:
  LazyFreer() : thread_([this] { Run(); }) { thread_.detach(); }

  void Submit(Job job) {
    pending_objects.fetch_add(job.objects, std::memory_order_relaxed);
    {
      std::lock_guard<std::mutex> lock(mu_);
      jobs_.push_back(std::move(job));
    }
    cv_.notify_one();
  }

 private:
  void Run() {
    for (;;) {
      Job job;
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [this] { return !jobs_.empty(); });
        job = std::move(jobs_.front());
        jobs_.pop_front();
      }
      StoreFreeOnBehalf(job.owner, [&job] {
        if (job.record != nullptr) FreeRecord(job.record);
        job.table.reset();  // ~Table frees every record and the bucket arrays
      });
      // Freed before it stops being pending: a reader that sees 0 pending sees the count back.
      freed_objects.fetch_add(job.objects, std::memory_order_relaxed);
      pending_objects.fetch_sub(job.objects, std::memory_order_release);
    }
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Job> jobs_;
  std::thread thread_;
};

LazyFreer& Freer() {
  static LazyFreer* freer = new LazyFreer();
  return *freer;
}

}  // namespace

LazyFreeOptions& LazyFreeSettings() {
  static LazyFreeOptions options;
  return options;
}

size_t FreeEffort(const Record* r) {
  if (!r->is_container()) return 1;
  ObjectRef obj = r->object();
  switch (obj.enc) {
    case Encoding::kQuicklist:
      return static_cast<const Quicklist*>(obj.ptr)->node_count();
    case Encoding::kHashtable:
    case Encoding::kSkiplist:
      return ObjectLength(obj);
    default:
      return 1;
  }
}

bool FreeRecordMaybeLazy(Record* r, bool lazy) {
  if (!lazy || FreeEffort(r) <= kLazyFreeThreshold) {
    FreeRecord(r);
    return false;
  }
  Job job;
  job.record = r;
  job.objects = 1;
  job.owner = StoreReturnedBytesHandle();
  Freer().Submit(std::move(job));
  return true;
}

void FreeTableLazily(Table* t) {
  if (t->size() == 0) {
    t->Clear();
    return;
  }
  Job job;
  job.table = std::make_unique<Table>();
  job.table->Swap(*t);
  job.objects = static_cast<int64_t>(job.table->size());
  job.owner = StoreReturnedBytesHandle();
  Freer().Submit(std::move(job));
}

int64_t LazyFreePendingObjects() { return pending_objects.load(std::memory_order_acquire); }
int64_t LazyFreedObjects() { return freed_objects.load(std::memory_order_relaxed); }
void ResetLazyFreedObjects() { freed_objects.store(0, std::memory_order_relaxed); }

}  // namespace omnibus
