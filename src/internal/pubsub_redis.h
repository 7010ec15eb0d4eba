// The hub's Redis backend: every publish goes through Redis, which numbers it (one counter
// per topic, so the order is the same in every process) and fans it out with PUBLISH to the
// processes subscribed to the topic's channel; each process subscribes to a topic's channel
// while it has local subscribers (one Redis subscription per topic in use, not per
// subscriber) and delivers what arrives like a local publish.
//
// It lives on the loop that connected it (its home loop): publishes and subscription changes
// from other threads are posted there. While Redis is unreachable it reconnects with backoff
// (100 ms doubling to 5 s), keeps publishes in an outbox up to a limit (the rest are counted
// as lost), and on reconnecting subscribes again, sends the outbox, and catches up on what
// its topics missed from their Redis history.
//
// History: a topic with history_size > 0 also keeps its messages in a Redis stream
// (<prefix>history:<topic>, entry id "<offset>-0", fields m = the encoded message and t = the
// publish time in ms by Redis's clock), trimmed to history_size entries and, with a
// history_ttl, to the entries younger than it (the stream itself expires after the ttl
// without publishes). The publish script appends to it in the same step that numbers the
// message, so the stream is exactly the topic's order. Recovery reads it.
//
// Joiners: a live subscriber that begins before the process receives its topic from Redis
// notes a floor (a time Redis's clock had passed when subscribe returned, from the last
// TIME reading plus the time elapsed here, less a margin). When Redis confirms the topic's
// SUBSCRIBE, one read per topic gives its joiners the stream's entries stamped at or after
// the earliest floor; their live messages wait meanwhile. Topics without a history keep a
// join window in a stream for this (RedisOptions::join_window).
#pragma once

#include <atomic>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "internal/pubsub_state.h"
#include "internal/redis.h"
#include "tornado/pubsub.h"

namespace tornado::pubsub::detail {

struct HubState;

// Tests only: when set, awaited on the home loop before a topic's SUBSCRIBE is sent, so a
// test can hold open the moment between a first subscriber and Redis's confirmation.
inline std::function<Future<void>(const std::string& topic)> subscribe_gate_for_test;
// Tests only: when set, awaited on the home loop before a topic's history is read (a
// recovery, a catch-up, a joiner's fill), so a test can keep live messages held meanwhile.
inline std::function<Future<void>(const std::string& topic)> read_gate_for_test;

class RedisBackend : public std::enable_shared_from_this<RedisBackend> {
 public:
  RedisBackend(std::weak_ptr<HubState> hub, RedisOptions options);

  // Connects (both connections) on the current loop, which becomes the home loop; raises
  // what the first connection attempt raised. Then keeps reconnecting until stop().
  Task<> start();
  void stop();

  // What the publishing process keeps in the topic's Redis history (its TopicOptions).
  struct HistoryBounds {
    std::size_t size = 0;
    int64_t ttl_ms = 0;  // 0: no ttl
    static HistoryBounds of(const TopicOptions& o);
  };

  // Any thread.
  void publish(const std::string& topic, std::string payload, HistoryBounds history);
  // Reads the topic's Redis history: the entries after offset `after` (at most `limit`), or
  // with no `after` the newest `limit`; `done` runs on the home loop (or here if that loop
  // is gone) with what Redis answered. Any thread.
  void read_history(const std::string& topic, std::optional<uint64_t> after, HistoryBounds bounds,
                    std::function<void(HistoryRead)> done);
  // The topic's Redis stream (its history, or its join window: RedisOptions), what a joiner
  // is filled in from; size 0 when it keeps none. Any thread.
  HistoryBounds stream_bounds(const TopicOptions& o) const;
  // A time Redis's clock (ms) had certainly passed by now: the last one read from Redis plus
  // the time elapsed here since, less a margin for rounding and for the clocks' drift
  // (2 ms + 0.1 % of the elapsed time). Any thread.
  int64_t redis_time_floor_ms() const;
  // A topic got a local subscriber (or a joiner) / lost its last one: each makes the Redis
  // subscription match what the topic has now (posted to the home loop).
  void topic_used(const std::string& topic);
  void topic_unused(const std::string& topic);
  uint64_t lost() const noexcept { return lost_.load(std::memory_order_relaxed); }
  bool connected() const noexcept { return connected_.load(std::memory_order_relaxed); }


 private:
  struct Outgoing {
    std::string topic;
    std::string payload;
    HistoryBounds history;
  };
  Task<> connect_both();
  Task<> run();
  void send(Outgoing item);
  Task<> send_one(std::shared_ptr<redis::Connection> c, Outgoing item);
  Task<HistoryRead> read(std::string topic, std::optional<uint64_t> after, HistoryBounds bounds);
  // After a reconnection: delivers what each topic in use with a history missed meanwhile,
  // holding the topic's live messages until it is done.
  Task<> catch_up(std::string topic, HistoryBounds bounds, uint64_t connection);
  void on_message(std::string_view channel, std::string_view payload);
  // On the home loop: SUBSCRIBE or UNSUBSCRIBE as the topic has local subscribers or not.
  void reconcile(const std::string& topic);
  Task<> subscribe_topic(std::string topic);
  // Redis confirmed the topic's SUBSCRIBE: its joiners are filled in.
  void went_live(const std::string& topic);
  Task<> fill_joiners(std::string topic, int64_t floor_ms, HistoryBounds bounds,
                      std::vector<Topic::Joiner> joiners);
  // The topic's head and its stream's entries published since `floor_ms` (Redis's clock),
  // oldest first; `complete` if none of them is gone from the stream.
  Task<HistoryRead> read_since_time(std::string topic, int64_t floor_ms, HistoryBounds bounds);
  void clock_read(int64_t redis_ms, std::chrono::steady_clock::time_point received);
  Task<> sample_clock(std::shared_ptr<redis::Connection> c);
  // Reads Redis's clock again every second (home loop), so that the floor's drift margin
  // stays small.
  void arm_clock();
  void connection_lost();

  std::weak_ptr<HubState> hub_;
  RedisOptions options_;
  LoopRef home_;
  std::shared_ptr<redis::Connection> cmd_;
  std::shared_ptr<redis::Connection> sub_;
  // Publishing connections given up for new ones, until their replies are in (stop() closes
  // them at once).
  std::vector<std::weak_ptr<redis::Connection>> retired_;
  Future<void> lost_connection_;
  std::set<std::string> used_;  // topics with local subscribers (home loop)
  // Each used topic's SUBSCRIBE, done once Redis confirmed it (a recovery reads the history
  // only after that, so that every later message reaches this process live).
  std::map<std::string, Future<void>> subscribed_;
  // Topics catching up after a reconnection (which one: a later reconnection's catch-up
  // replaces an unfinished one), with the live messages held meanwhile.
  struct CatchUp {
    uint64_t connection = 0;
    std::vector<std::string> held;
  };
  std::map<std::string, CatchUp> catching_up_;
  uint64_t connections_ = 0;  // connect_both calls
  std::deque<Outgoing> outbox_;
  std::atomic<uint64_t> lost_{0};
  std::atomic<bool> connected_{false};
  bool stopping_ = false;
  // The last reading of Redis's clock and when it was received (redis_time_floor_ms).
  mutable std::mutex clock_mu_;
  int64_t clock_redis_ms_ = 0;
  std::chrono::steady_clock::time_point clock_received_{};
  TimeoutHandle clock_timer_;
};

}  // namespace tornado::pubsub::detail
