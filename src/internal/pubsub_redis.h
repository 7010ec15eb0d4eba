// The hub's Redis backend: every publish goes through Redis, which numbers it (one counter
// per topic, so the order is the same in every process) and fans it out with PUBLISH to the
// processes subscribed to the topic's channel; each process subscribes to a topic's channel
// while it has local subscribers (one Redis subscription per topic in use, not per
// subscriber) and delivers what arrives like a local publish.
//
// It lives on the loop that connected it (its home loop): publishes and subscription changes
// from other threads are posted there. While Redis is unreachable it reconnects with backoff
// (100 ms doubling to 5 s), keeps publishes in an outbox up to a limit (the rest are counted
// as lost), and on reconnecting subscribes again and sends the outbox.
#pragma once

#include <atomic>
#include <deque>
#include <memory>
#include <set>
#include <string>

#include "internal/redis.h"
#include "tornado/pubsub.h"

namespace tornado::pubsub::detail {

struct HubState;

class RedisBackend : public std::enable_shared_from_this<RedisBackend> {
 public:
  RedisBackend(std::weak_ptr<HubState> hub, RedisOptions options);

  // Connects (both connections) on the current loop, which becomes the home loop; raises
  // what the first connection attempt raised. Then keeps reconnecting until stop().
  Task<> start();
  void stop();

  // Any thread.
  void publish(const std::string& topic, std::string payload);
  void topic_used(const std::string& topic);
  void topic_unused(const std::string& topic);
  uint64_t lost() const noexcept { return lost_.load(std::memory_order_relaxed); }
  bool connected() const noexcept { return connected_.load(std::memory_order_relaxed); }

  // "<t|b><key length>:<key><data>": what goes to Redis after the epoch and offset.
  static std::string encode(std::string_view data, bool binary, std::string_view key);

 private:
  Task<> connect_both();
  Task<> run();
  void send(const std::string& topic, const std::string& payload);
  Task<> send_one(std::shared_ptr<redis::Connection> c, std::string topic, std::string payload);
  void on_message(std::string_view channel, std::string_view payload);
  void connection_lost();

  std::weak_ptr<HubState> hub_;
  RedisOptions options_;
  LoopRef home_;
  std::shared_ptr<redis::Connection> cmd_;
  std::shared_ptr<redis::Connection> sub_;
  Future<void> lost_connection_;
  std::set<std::string> used_;  // topics with local subscribers (home loop)
  std::deque<std::pair<std::string, std::string>> outbox_;
  std::atomic<uint64_t> lost_{0};
  std::atomic<bool> connected_{false};
  bool stopping_ = false;
};

}  // namespace tornado::pubsub::detail
