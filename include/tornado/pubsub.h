// tornado/pubsub.h — a hub of topics: publish once, deliver to every subscriber on every
// loop thread of the process (WebSocket connections, Server-Sent Events streams, callbacks),
// with a bound per slow subscriber, optional history with recovery, and presence.
//
//   pubsub::Hub& hub = pubsub::Hub::instance();       // or a Hub of your own
//   struct Room : websocket::WebSocketHandler {
//     pubsub::Subscription sub;
//     Task<> open() override {
//       sub = pubsub::Hub::instance().subscribe("room:" + path_arg(0), *this);
//       co_return;
//     }
//     Task<> on_message(std::string m, bool) override {
//       pubsub::Hub::instance().publish("room:" + path_arg(0), m);
//       co_return;
//     }
//   };
//
// A message is encoded once (its WebSocket frame, its deflated frame for subscribers that
// negotiated no-context-takeover compression, its SSE event) into one immutable,
// reference-counted Message shared by every subscriber on every thread. Each subscriber
// receives a topic's messages once, in publish order (a total order per topic, the order of
// their offsets), on its own loop thread. See docs/pubsub.md for the guarantees.
//
// Thread rules: publish, configure, subscriber_count, members and stats from any thread;
// subscribe and Subscription on the subscriber's loop thread (a Subscription ended on
// another thread is ended by its loop).
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tornado/ioloop.h"
#include "tornado/task.h"

namespace tornado::websocket {
class WebSocketHandler;
}
namespace tornado::web {
class EventSourceHandler;
}

namespace tornado::pubsub {

// Where a message sits in its topic's stream: the topic's epoch (a random number drawn when
// the topic's stream began; a new epoch means earlier positions cannot be recovered) and the
// message's offset (1, 2, 3, ... in publish order). Text form "<epoch hex>-<offset>", which
// is also the SSE event id and so comes back as Last-Event-ID.
struct StreamPosition {
  uint64_t epoch = 0;
  uint64_t offset = 0;
  std::string to_string() const;
  static std::optional<StreamPosition> parse(std::string_view text) noexcept;
  friend bool operator==(const StreamPosition&, const StreamPosition&) = default;
};

// What happens to a message for a subscriber whose unsent bytes would pass the topic's
// max_pending_bytes.
enum class SlowConsumerPolicy : uint8_t {
  kDisconnect,  // close the subscriber (WebSocket code/reason below; SSE: end the stream)
  kDropNewest,  // the new message is not sent to it
  kDropOldest,  // its oldest queued messages of this topic are dropped to make room
  kConflate,    // a queued message with the same key is replaced (dashboards); otherwise as
                // kDropOldest. With this policy a message replaces a queued one of the same
                // key even below the limit: only the latest value per key is worth sending.
                // The queued one is dropped and the new one queued last, under the limit like
                // any message (so offsets stay in order and a larger value cannot grow the
                // backlog).
};

struct TopicOptions {
  SlowConsumerPolicy slow_consumer = SlowConsumerPolicy::kDisconnect;
  // Unsent bytes per subscriber connection (its socket queue plus its hub backlog).
  std::size_t max_pending_bytes = 1024 * 1024;
  // Bytes published but not yet handed to the subscribers of one loop thread (a loop that
  // falls behind its publishers on other threads). Past it the topic's messages are not
  // queued for that loop; its subscribers then missed them: under kDisconnect they are
  // disconnected, under the other policies the messages count as dropped for each.
  std::size_t max_queued_bytes = 64 * 1024 * 1024;
  int disconnect_code = 1008;  // policy violation; 4000-4999 also allowed
  std::string disconnect_reason = "slow consumer";
  // History kept for recovery: the last history_size messages (0: no history), and with a
  // history_ttl only those younger than it.
  std::size_t history_size = 0;
  std::optional<Duration> history_ttl;
  // Keep a member list (client id and info) and publish join/leave events on the topic
  // presence_topic(topic). Counts are kept for every topic.
  bool track_members = false;
};

// The Redis backend (Hub::connect_redis): keys and channels are prefix + topic.
struct RedisOptions {
  std::string host = "127.0.0.1";
  int port = 6379;
  // Also how long, when one of its two connections is lost, the other (the one that
  // publishes) still waits for the replies to what it sent before it closes.
  Duration connect_timeout = std::chrono::seconds(5);
  // Publishes kept while Redis is unreachable; more are dropped and counted (redis_lost()).
  std::size_t outbox_limit = 10000;
  std::string prefix = "tornado:";
  // A process's first subscriber of a topic gets what was published between its subscribe
  // and Redis confirming the process's SUBSCRIBE from the topic's Redis stream (docs/pubsub.md,
  // "Redis"). A topic with a history has that stream; one without keeps its messages of the
  // last join_window in a stream for it (at most join_window_entries; trimmed at each publish,
  // gone after join_window without publishes). Zero turns that stream off (one XADD less per
  // publish), and such a first subscriber then misses what comes before its SUBSCRIBE lands.
  // Configure every process alike.
  Duration join_window = std::chrono::seconds(10);
  std::size_t join_window_entries = 1000;
};

namespace detail {
class RedisBackend;
struct Topic;
struct LocalTopic;
struct SubscriptionState;
struct HubState;
class Sink;
}  // namespace detail

// One published message, immutable and shared by every subscriber.
class Message {
 public:
  Message(std::string topic, std::string data, bool binary, std::string key);
  const std::string& topic() const noexcept { return topic_; }
  std::string_view data() const noexcept;
  bool binary() const noexcept { return binary_; }
  // The conflation key ("" when none was given).
  const std::string& key() const noexcept { return key_; }
  StreamPosition position() const noexcept { return position_; }

  // Encodings, each made once, by the first subscriber (any thread) that needs it.
  // A server WebSocket frame (FIN, unmasked) holding data().
  std::string_view websocket_frame() const noexcept { return frame_; }
  // The same message deflated alone (RFC 7692, no context takeover, 15-bit window), RSV1 set.
  std::string_view websocket_deflated_frame() const;
  // "id: <position>\ndata: <line>\n...\n\n" (data split at CR, LF and CRLF).
  std::string_view sse_event() const;
  // For subscribers with SubscribeOptions::send_position: the frame (plain or deflated as
  // above) of "<position>\n<data>", the position's text form, a line feed, then the data.
  std::string_view websocket_positioned_frame() const;
  std::string_view websocket_positioned_deflated_frame() const;

 private:
  friend struct detail::Topic;  // stamps the position when it publishes
  std::string topic_;
  std::string frame_;  // header + data: data() is its tail
  std::size_t header_size_;
  std::string key_;
  bool binary_;
  StreamPosition position_;
  mutable std::once_flag deflated_once_;
  mutable std::string deflated_;
  mutable std::once_flag sse_once_;
  mutable std::string sse_;
  mutable std::once_flag positioned_once_;
  mutable std::string positioned_;
  mutable std::once_flag positioned_deflated_once_;
  mutable std::string positioned_deflated_;
};
using MessagePtr = std::shared_ptr<const Message>;

// A presence member: who is subscribed (one client may hold several subscriptions; it is
// listed once, joining with its first and leaving with its last).
struct Member {
  std::string client_id;
  nlohmann::json info;
};

enum class Recovery : uint8_t {
  kNotRequested,   // no position was given
  kRecovered,      // every message after the position was delivered (possibly none)
  kUnrecoverable,  // the position is from another epoch or older than the history: the
                   // subscriber missed messages that are gone (it must reload its state)
  kPending,        // with Redis: the history is being read from Redis; live messages wait
                   // behind the recovered ones (SubscribeOptions::on_recovery gives the end)
                   // (a live subscription, no `since`, is kUnrecoverable when, with Redis,
                   // what was published before its topic's SUBSCRIBE landed could not be
                   // filled in: docs/pubsub.md, "Redis")
};

struct SubscribeOptions {
  // Recover: deliver the messages after this position first (from the history).
  std::optional<StreamPosition> since;
  // Presence: for topics with track_members.
  std::optional<Member> member;
  // Called once with the recovery's result (kRecovered or kUnrecoverable), on the
  // subscriber's loop, after the recovered messages and before any live one: before
  // subscribe returns without Redis, when Redis has answered with it.
  // Without `since` it is called only with Redis, and only to say kUnrecoverable: the
  // messages published while the process's SUBSCRIBE was on its way could not all be
  // filled in from Redis (the subscription goes on live; the client reloads its state).
  std::function<void(Recovery)> on_recovery;
  // WebSocket subscribers: each message is sent as "<position>\n<data>" (the position's
  // text form, a line feed, the data), so that the client knows what to pass back as
  // `since` when it reconnects (an SSE event carries it as its id: ignored there).
  bool send_position = false;
};


// A subscription: ends when cancelled or destroyed. Move-only. On its loop's thread it ends
// at once; cancelled or destroyed on another thread, it ends on its loop shortly after (a
// message being delivered then may still reach a callback).
class Subscription {
 public:
  Subscription() = default;
  Subscription(Subscription&&) noexcept = default;
  Subscription& operator=(Subscription&& other) noexcept;
  ~Subscription();
  void cancel() noexcept;
  bool active() const noexcept;
  explicit operator bool() const noexcept { return active(); }
  // The result of the recovery asked for in SubscribeOptions::since.
  Recovery recovery() const noexcept;
  // The topic's position when the subscription began (after any recovered messages): what
  // a client keeps to recover from when it has received nothing yet.
  StreamPosition position() const noexcept;

 private:
  friend class Hub;
  explicit Subscription(std::shared_ptr<detail::SubscriptionState> s) : state_(std::move(s)) {}
  std::shared_ptr<detail::SubscriptionState> state_;
};

struct TopicStats {
  std::size_t subscribers = 0;  // on every loop thread
  uint64_t published = 0;
  uint64_t dropped = 0;         // messages not sent to a subscriber (drop/conflate policies)
  uint64_t disconnected = 0;    // subscribers closed by the disconnect policy
  uint64_t undeliverable = 0;   // binary messages not sent to SSE subscribers (text only)
  StreamPosition position;      // of the last message published
};

class Hub {
 public:
  Hub();
  ~Hub();
  Hub(const Hub&) = delete;
  Hub& operator=(const Hub&) = delete;

  // The process's hub (made on first use, never destroyed).
  static Hub& instance();

  // Options for one topic (replacing those it had; history already kept is trimmed to the
  // new bounds at the next publish), and the options of topics never configured.
  void configure(std::string_view topic, TopicOptions options);
  void set_default_options(TopicOptions options);

  // Publishes to every subscriber of `topic`, on every loop thread; returns the message's
  // position (with Redis: an empty position, the number is given by Redis later). Text must be valid UTF-8 (std::invalid_argument). `key` names what the message
  // updates, for the conflate policy. Any thread; never blocks on a subscriber.
  StreamPosition publish(std::string_view topic, std::string_view data, bool binary = false,
                         std::string_view key = {});

  // Subscribes a WebSocket connection (open() or later), an SSE stream, or a callback (run on
  // the current loop with each message). WebSocket and SSE subscriptions end by themselves
  // when their connection closes; the callback's when cancelled. A connection subscribes to
  // a topic once (again while subscribed: std::invalid_argument); a callback may end its own
  // subscription while it runs.
  Subscription subscribe(std::string_view topic, websocket::WebSocketHandler& connection,
                         SubscribeOptions options = {});
  Subscription subscribe(std::string_view topic, web::EventSourceHandler& stream,
                         SubscribeOptions options = {});
  Subscription subscribe(std::string_view topic, std::function<void(const MessagePtr&)> callback,
                         SubscribeOptions options = {});

  // Switches this hub to Redis (docs/pubsub.md, "Redis"): from now on every publish goes
  // through Redis, which numbers it and carries it to every process connected to the same
  // server, this one included; subscribers receive what Redis delivers. Awaited on the loop
  // that will own the connections; raises if the first connection fails (later losses are
  // retried with backoff). Build the options in a statement of their own (g++ 12, docs/task.md).
  Task<> connect_redis(RedisOptions options);
  // Publishes dropped because Redis was unreachable and the outbox full, or lost in flight.
  uint64_t redis_lost() const;
  bool redis_connected() const;

  // Subscribers of `topic` on every thread, in O(1).
  std::size_t subscriber_count(std::string_view topic) const;
  // The members of a track_members topic, each once.
  std::vector<Member> members(std::string_view topic) const;
  TopicStats stats(std::string_view topic) const;
  // The same counts over every topic, including those forgotten since (a topic with neither
  // subscribers nor history is, and its own stats start again); position is empty. Any
  // thread: what a dashboard samples.
  TopicStats totals() const;
  // The messages the topic's history holds now, oldest first (what a page renders before it
  // subscribes; recovery is subscribe's `since`). Any thread. With Redis this is what this
  // process received; fetch_history reads the shared history.
  std::vector<MessagePtr> history(std::string_view topic) const;
  // The topic's history as every process sees it: with Redis, the newest history_size
  // messages of the topic's Redis stream (empty if Redis is unreachable); without, history().
  // On a loop thread.
  Task<std::vector<MessagePtr>> fetch_history(std::string topic);
  // The topic presence events of `topic` are published on: JSON text
  // {"event":"join"|"leave","client_id":...,"info":...}.
  static std::string presence_topic(std::string_view topic);

 private:
  Subscription subscribe_impl(std::string_view topic, std::shared_ptr<detail::SubscriptionState> s,
                              SubscribeOptions& options);
  std::shared_ptr<detail::HubState> state_;
};

}  // namespace tornado::pubsub
