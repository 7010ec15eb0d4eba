// Condition, Event, Semaphore, BoundedSemaphore and Lock (see tornado/locks.h).
#include "tornado/locks.h"

#include <exception>
#include <stdexcept>
#include <string>
#include <vector>

#include "tornado/log.h"

namespace tornado::locks {

namespace {

// Fails a waiter whose timeout passed; shared by every primitive that raises on timeout.
void fail_with_timeout(Future<void>& fut) { fut.set_exception(TimeoutError()); }

Future<void> failed_with_timeout() {
  Future<void> fut;
  fail_with_timeout(fut);
  return fut;
}

}  // namespace

// ---- Condition ------------------------------------------------------------------------

Condition::Condition() : waiters_(Queue::make()) {}

Future<bool> Condition::wait(std::optional<Duration> timeout) {
  Future<bool> fut;
  if (detail::no_wait(timeout)) {
    fut.set_result(false);
    return fut;
  }
  waiters_->push(Queue::value_type(fut), timeout, [](Future<bool>& f) { f.set_result(false); });
  return fut;
}

void Condition::notify(std::size_t n) {
  // Pop first, resolve after: resolving only schedules callbacks, but this keeps the queue
  // consistent even if a future day makes resolution run code synchronously.
  std::vector<Future<bool>> woken;
  while (n > 0) {
    if (waiters_->front() == nullptr) break;
    woken.push_back(waiters_->pop().future);
    --n;
  }
  for (auto& f : woken) f.set_result(true);
}

void Condition::notify_all() { notify(waiters_->size()); }

std::string Condition::repr() const {
  std::string out = "<Condition";
  if (!waiters_->empty()) out += " waiters[" + std::to_string(waiters_->size()) + "]";
  return out + ">";
}

// ---- Event ----------------------------------------------------------------------------

Event::Event() : waiters_(Queue::make()) {}

void Event::set() {
  if (value_) return;
  value_ = true;
  while (waiters_->front() != nullptr) waiters_->pop().future.set_result();
}

Future<void> Event::wait(std::optional<Duration> timeout) {
  if (value_) {
    Future<void> fut;
    fut.set_result();
    return fut;
  }
  if (detail::no_wait(timeout)) return failed_with_timeout();
  Future<void> fut;
  waiters_->push(Queue::value_type(fut), timeout, fail_with_timeout);
  return fut;
}

std::string Event::repr() const { return value_ ? "<Event set>" : "<Event clear>"; }

// ---- Guard and Acquire ----------------------------------------------------------------

Guard& Guard::operator=(Guard&& o) noexcept {
  if (this != &o) {
    Guard old(std::move(*this));  // releases what we held, through the destructor
    sem_ = std::exchange(o.sem_, nullptr);
  }
  return *this;
}

Guard::~Guard() {
  if (sem_ == nullptr) return;
  try {
    sem_->release();
  } catch (const std::exception& e) {
    // A destructor must not throw; this happens when the unit was also released by hand.
    app_log().error("Guard could not release its semaphore: {}", e.what());
  }
}

void Guard::release() {
  if (Semaphore* sem = std::exchange(sem_, nullptr)) sem->release();
}

Guard Acquire::take_guard() {
  future_.result();  // rethrows TimeoutError
  if (guard_taken_) {
    throw std::logic_error("Acquire awaited twice: its Guard was already handed out");
  }
  guard_taken_ = true;
  return Guard(sem_);
}

// ---- Semaphore ------------------------------------------------------------------------

namespace {
int checked_value(int value) {
  if (value < 0) {
    throw std::invalid_argument("semaphore initial value must be >= 0, got " +
                                std::to_string(value));
  }
  return value;
}
}  // namespace

Semaphore::Semaphore(int value) : Semaphore(value, -1) {}

Semaphore::Semaphore(int value, int bound)
    : value_(checked_value(value)), bound_(bound), waiters_(Queue::make()) {}

Acquire Semaphore::acquire(std::optional<Duration> timeout) {
  // value_ > 0 implies no live waiter: release() hands a unit to a waiter before counting it.
  if (value_ > 0) {
    --value_;
    Future<void> fut;
    fut.set_result();
    return Acquire(this, std::move(fut));
  }
  if (detail::no_wait(timeout)) return Acquire(this, failed_with_timeout());
  Future<void> fut;
  waiters_->push(Queue::value_type(fut), timeout, fail_with_timeout);
  return Acquire(this, std::move(fut));
}

bool Semaphore::try_acquire() noexcept {
  if (value_ <= 0) return false;
  --value_;
  return true;
}

void Semaphore::release() {
  if (bound_ >= 0 && value_ >= bound_) {
    throw std::logic_error("Semaphore released too many times");
  }
  if (waiters_->front() != nullptr) {
    waiters_->pop().future.set_result();  // the unit passes straight to the waiter
  } else {
    ++value_;
  }
}

std::string Semaphore::repr() const {
  std::string extra = value_ == 0 ? "locked" : "unlocked,value:" + std::to_string(value_);
  if (!waiters_->empty()) extra += ",waiters:" + std::to_string(waiters_->size());
  return std::string("<") + type_name() + " [" + extra + "]>";
}

// ---- Lock -----------------------------------------------------------------------------

void Lock::release() {
  if (!locked()) throw std::logic_error("release unlocked lock");
  block_.release();
}

std::string Lock::repr() const { return "<Lock _block=" + block_.repr() + ">"; }

}  // namespace tornado::locks
