// postgres: the connection pool. Connections are made on demand up to max_size and reused
// newest first; acquire() calls beyond that wait in a bounded FIFO with a timeout. A connection
// that comes back closed or busy is dropped and its place goes to the next waiter, which makes
// a new one: that is how the pool recovers from a server restart.
#include <fmt/format.h>

#include "tornado/gen.h"
#include "tornado/postgres.h"

namespace tornado::postgres {

namespace detail {

struct PoolState {
  struct Waiter {
    // A connection, or nullptr: a place was freed, the waiter makes a connection itself.
    Future<std::shared_ptr<Connection>> handed;
    TimeoutHandle timer;
  };

  PoolOptions options;
  LoopRef loop = IOLoop::current().ref();
  std::vector<std::shared_ptr<Connection>> idle;
  std::deque<std::shared_ptr<Waiter>> waiters;
  std::size_t open = 0;  // idle + taken + being made
  bool closed = false;

  std::size_t waiting_count() const noexcept {
    std::size_t n = 0;
    for (const auto& w : waiters) n += w->handed.done() ? 0 : 1;
    return n;
  }

  // The oldest waiter still waiting, or nullptr.
  std::shared_ptr<Waiter> next_waiter() {
    while (!waiters.empty()) {
      auto w = std::move(waiters.front());
      waiters.pop_front();
      if (w->handed.done()) continue;  // timed out or cancelled
      if (IOLoop* l = loop.get()) l->remove_timeout(w->timer);
      return w;
    }
    return nullptr;
  }

  void put_back(std::shared_ptr<Connection> c) {
    if (closed || c->closed()) return drop(std::move(c));
    if (auto w = next_waiter()) return w->handed.set_result(std::move(c));
    idle.push_back(std::move(c));
  }

  void drop(std::shared_ptr<Connection> c) {
    if (c) c->close();
    place_freed();
  }

  void place_freed() {
    --open;
    if (closed) return;
    if (auto w = next_waiter()) {
      ++open;  // the place is the waiter's now
      w->handed.set_result(nullptr);
    }
  }

  // A connection given back mid-transaction (or with a dropped Transaction's ROLLBACK still
  // queued) is rolled back, then pooled; any failure drops it.
  static Task<> settle(std::shared_ptr<PoolState> self, std::shared_ptr<Connection> c) {
    try {
      co_await c->query_params("ROLLBACK", Params(), self->options.connect.cancel_grace);
    } catch (...) {
    }
    if (!c->closed() && c->idle() && !c->in_transaction()) {
      self->put_back(std::move(c));
    } else {
      self->drop(std::move(c));
    }
  }

  void release(std::shared_ptr<Connection> c) {
    if (c->closed()) return drop(std::move(c));
    if (c->idle() && !c->in_transaction()) return put_back(std::move(c));
    if (!closed && c->only_rollback_pending()) {
      spawn_detached(settle(std::shared_ptr<PoolState>(self_ref()), std::move(c)),
                     [](std::exception_ptr) {});
      return;
    }
    drop(std::move(c));  // a statement still running: nobody awaits it any more
  }

  std::weak_ptr<PoolState> weak_self;
  std::shared_ptr<PoolState> self_ref() { return weak_self.lock(); }
};

}  // namespace detail

void PooledConnection::release() {
  if (!conn_ || !pool_) return;
  auto pool = std::move(pool_);
  pool->release(std::move(conn_));
}

Pool::Pool(PoolOptions options) : state_(std::make_shared<detail::PoolState>()) {
  if (options.max_size == 0) throw std::invalid_argument("postgres::Pool: max_size must be > 0");
  state_->options = std::move(options);
  state_->weak_self = state_;
}

Pool::~Pool() { close(); }

void Pool::close() {
  auto& st = *state_;
  if (st.closed) return;
  st.closed = true;
  for (auto& c : st.idle) c->close();
  st.open -= st.idle.size();
  st.idle.clear();
  while (!st.waiters.empty()) {
    auto w = std::move(st.waiters.front());
    st.waiters.pop_front();
    if (IOLoop* l = st.loop.get()) l->remove_timeout(w->timer);
    if (!w->handed.done()) w->handed.set_exception(Error("postgres: the pool was closed"));
  }
}

std::size_t Pool::size() const noexcept { return state_->open; }
std::size_t Pool::idle() const noexcept { return state_->idle.size(); }
std::size_t Pool::waiting() const noexcept { return state_->waiting_count(); }

Task<PooledConnection> Pool::acquire() {
  auto st = state_;
  for (;;) {
    if (st->closed) throw Error("postgres: the pool is closed");
    while (!st->idle.empty()) {
      auto c = std::move(st->idle.back());
      st->idle.pop_back();
      if (!c->alive()) {  // lost while idle (server restart): its place is free again
        --st->open;
        continue;
      }
      co_return PooledConnection(st, std::move(c));
    }
    std::shared_ptr<Connection> c;
    bool own_place = false;
    if (st->open < st->options.max_size) {
      ++st->open;
      own_place = true;
    } else {
      if (st->waiting_count() >= st->options.max_waiters) {
        throw Error(fmt::format("postgres: the pool has {} waiters already (max_waiters)",
                                st->options.max_waiters));
      }
      auto w = std::make_shared<detail::PoolState::Waiter>();
      const Duration timeout = st->options.acquire_timeout;
      w->timer = st->loop.get()->call_later(timeout, [w, timeout] {
        if (!w->handed.done()) {
          w->handed.set_exception(TimeoutError(fmt::format(
              "postgres: no pool connection free within {:g} s", timeout.count())));
        }
      });
      st->waiters.push_back(w);
      Future<std::shared_ptr<Connection>> handed = w->handed;
      c = co_await handed;
      if (c) {
        if (c->closed()) {
          st->place_freed();
          continue;
        }
        co_return PooledConnection(st, std::move(c));
      }
      own_place = true;  // a place was freed for us
    }
    if (own_place) {
      try {
        c = co_await Connection::connect(st->options.conninfo, st->options.connect);
      } catch (...) {
        st->place_freed();
        throw;
      }
      co_return PooledConnection(st, std::move(c));
    }
  }
}

Task<Result> Pool::query_params(std::string sql, Params params) {
  PooledConnection c = co_await acquire();
  co_return co_await c->query_params(std::move(sql), std::move(params), std::nullopt);
}

Task<std::int64_t> Pool::execute_params(std::string sql, Params params) {
  PooledConnection c = co_await acquire();
  co_return co_await c->execute_params(std::move(sql), std::move(params));
}

}  // namespace tornado::postgres
