// The keep-alive pool of the HTTP client: idle streams per key, bounded per key and in
// total, closed after idle_timeout or as soon as the server closes them.
#include "internal/httpclient_impl.h"
#include "tornado/ioloop.h"

namespace tornado::httpclient::detail {

std::shared_ptr<IOStream> ConnectionPool::checkout(const PoolKey& key) {
  auto it = idle_.find(key);
  if (it == idle_.end()) return nullptr;
  auto& list = it->second;
  std::shared_ptr<IOStream> found;
  while (!list.empty() && !found) {
    Idle idle = std::move(list.back());  // most recent first: the likeliest to be alive
    list.pop_back();
    --total_;
    forget(idle);
    // A server that closed the connection, or sent bytes nobody asked for, makes the
    // stream unusable: a response to the next request could not be told apart.
    if (idle.stream->closed() || !idle.stream->read_buffer().empty()) {
      idle.stream->close();
      continue;
    }
    found = std::move(idle.stream);
  }
  if (list.empty()) idle_.erase(it);
  return found;
}

void ConnectionPool::checkin(const PoolKey& key, std::shared_ptr<IOStream> stream) {
  IOLoop* loop = loop_.get();
  if (max_per_key_ == 0 || max_total_ == 0 || stream->closed() || loop == nullptr) {
    stream->close();
    return;
  }
  // Make room first: no empty list may sit in the map while evict_oldest looks at fronts.
  if (auto it = idle_.find(key); it != idle_.end() && it->second.size() >= max_per_key_) {
    Idle oldest = std::move(it->second.front());
    it->second.pop_front();
    --total_;
    forget(oldest);
    oldest.stream->close();
    if (it->second.empty()) idle_.erase(it);
  }
  if (total_ >= max_total_) evict_oldest();
  uint64_t id = next_id_++;
  std::weak_ptr<ConnectionPool*> token = token_;
  auto drop = [token, key, id] {
    if (auto t = token.lock()) (*t)->discard(key, id);
  };
  Idle idle{id, stream, loop->time(), loop->call_later(idle_timeout_, drop)};
  // With a close callback set, the idle stream reads just enough to notice a close.
  stream->set_close_callback(drop);
  idle_[key].push_back(std::move(idle));
  ++total_;
}

void ConnectionPool::discard(const PoolKey& key, uint64_t id) {
  auto it = idle_.find(key);
  if (it == idle_.end()) return;
  auto& list = it->second;
  for (auto i = list.begin(); i != list.end(); ++i) {
    if (i->id != id) continue;
    Idle idle = std::move(*i);
    list.erase(i);
    --total_;
    forget(idle);
    idle.stream->close();
    break;
  }
  if (list.empty()) idle_.erase(it);
}

void ConnectionPool::evict_oldest() {
  auto oldest = idle_.end();
  for (auto it = idle_.begin(); it != idle_.end(); ++it) {
    if (it->second.empty()) continue;
    if (oldest == idle_.end() || it->second.front().since < oldest->second.front().since) {
      oldest = it;
    }
  }
  if (oldest == idle_.end()) return;
  Idle idle = std::move(oldest->second.front());
  oldest->second.pop_front();
  --total_;
  forget(idle);
  idle.stream->close();
  if (oldest->second.empty()) idle_.erase(oldest);
}

void ConnectionPool::forget(Idle& idle) {
  if (IOLoop* loop = loop_.get()) loop->remove_timeout(idle.expiry);
  if (!idle.stream->closed()) idle.stream->set_close_callback(nullptr);
}

void ConnectionPool::close_all() {
  auto all = std::move(idle_);
  idle_.clear();
  total_ = 0;
  for (auto& [key, list] : all) {
    for (auto& idle : list) {
      forget(idle);
      idle.stream->close();
    }
  }
}

}  // namespace tornado::httpclient::detail
