// The hub's shared state: topics (any thread, under their mutex), each topic's subscribers
// per loop thread (touched only on that thread), subscriptions, and the sink that queues a
// connection's messages behind its socket.
//
// Publishing takes the topic's mutex, numbers the message, keeps it in the history and
// queues one callback per loop thread holding subscribers; each loop then hands the message
// to its subscribers. Queuing under the mutex is what makes every subscriber see a topic's
// messages in offset order. A subscriber also remembers the last offset it got, so a message
// that arrives after a recovery already delivered it is skipped, not repeated.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "tornado/iostream.h"
#include "tornado/pubsub.h"

namespace tornado::pubsub::detail {

struct HubState;
class Sink;

struct HistoryEntry {
  MessagePtr message;
  std::chrono::steady_clock::time_point published;
};

// One loop thread's subscribers to one topic. Only that loop's thread touches `subs`.
struct LocalTopic {
  LocalTopic(std::shared_ptr<Topic> t, IOLoop& l) : topic(std::move(t)), ref(l.ref()) {}
  // Hands `message` to every subscriber here (a recovering one keeps it for later).
  void deliver(const MessagePtr& message, const std::shared_ptr<const TopicOptions>& options);
  // The messages not queued for this loop (past max_queued_bytes): every subscriber here
  // missed them (the policy's disconnect, or counted as dropped).
  void report_skipped(const TopicOptions& options);
  // Hands `message` to one subscriber: skipped if it already has it (by offset), else to its
  // callback or its connection under the options' policy; counts what the policy did.
  void offer(SubscriptionState& s, const MessagePtr& message, const TopicOptions& options,
             uint64_t& dropped);
  void remove(SubscriptionState* s) noexcept;
  // Runs f on each active subscription here (this loop's thread).
  template <typename F>
  void each_subscriber(F&& f);

  std::shared_ptr<Topic> topic;
  LoopRef ref;  // also its identity: a loop made later at the same address is another
  std::vector<SubscriptionState*> subs;
  // Bytes queued for this loop and not delivered yet, and the messages skipped since the
  // last report (publishers add under the topic's mutex; the loop takes).
  std::atomic<std::size_t> queued_bytes{0};
  std::atomic<uint64_t> skipped{0};
  int delivering = 0;     // deliver() running: removals leave a hole, compacted after
  bool has_holes = false;
};

// The hub's counts over every topic, forgotten ones included (Hub::totals).
struct HubTotals {
  std::atomic<std::size_t> subscribers{0};
  std::atomic<uint64_t> published{0};
  std::atomic<uint64_t> dropped{0};
  std::atomic<uint64_t> disconnected{0};
  std::atomic<uint64_t> undeliverable{0};
};

struct Topic {
  std::mutex mu;
  std::string name;
  std::weak_ptr<HubState> hub;
  std::shared_ptr<const TopicOptions> options;
  uint64_t epoch = 0;
  uint64_t offset = 0;
  std::deque<HistoryEntry> history;
  std::vector<std::shared_ptr<LocalTopic>> locals;  // one per loop thread with subscribers
  // client id -> (subscriptions, info); only with track_members
  std::map<std::string, std::pair<std::size_t, nlohmann::json>, std::less<>> members;
  std::atomic<std::size_t> subscribers{0};
  std::atomic<uint64_t> published{0};
  std::atomic<uint64_t> dropped{0};
  std::atomic<uint64_t> disconnected{0};
  std::atomic<uint64_t> undeliverable{0};
  std::shared_ptr<HubTotals> totals;  // the hub's, counted with the topic's own
  void count_published() { add(published, totals->published, 1); }
  void count_dropped(uint64_t n) { add(dropped, totals->dropped, n); }
  void count_disconnected() { add(disconnected, totals->disconnected, 1); }
  void count_undeliverable() { add(undeliverable, totals->undeliverable, 1); }
  static void add(std::atomic<uint64_t>& mine, std::atomic<uint64_t>& hub, uint64_t n) {
    if (n == 0) return;
    mine.fetch_add(n, std::memory_order_relaxed);
    hub.fetch_add(n, std::memory_order_relaxed);
  }
  // Forgotten by the hub (release_if_unused): a subscriber must not join it. Under mu.
  bool released = false;
  // With Redis: this process receives the topic from Redis (its SUBSCRIBE confirmed since
  // the topic last had no subscriber here). A live subscriber that begins before that is a
  // joiner: what is published until then is filled in from the topic's Redis stream
  // (RedisBackend::went_live). Under mu.
  bool redis_live = false;
  struct Joiner {
    std::weak_ptr<SubscriptionState> subscription;
    LoopRef loop;
    int64_t floor_ms;  // Redis's clock was at least this when subscribe returned
  };
  std::vector<Joiner> joiners;

  // Drops history past the options' bounds. Under mu.
  void trim_history(std::chrono::steady_clock::time_point now);
  // Numbers `message` (or gives it `given`, the position Redis gave it: a new epoch starts
  // the topic's stream again), keeps it in the history and queues it on every loop thread
  // with subscribers. Under mu.
  MessagePtr publish_locked(std::shared_ptr<Message> message,
                            std::optional<StreamPosition> given = std::nullopt);
  // A message read back from Redis, with the position Redis gave it.
  static std::shared_ptr<Message> stamped(std::shared_ptr<Message> m, StreamPosition position) {
    m->position_ = position;
    return m;
  }
};

// What a read of a topic's history in Redis gave (RedisBackend::read_history).
struct HistoryRead {
  bool ok = false;           // Redis answered
  StreamPosition head;       // the topic's epoch and last offset in Redis
  std::vector<std::shared_ptr<Message>> messages;  // oldest first, each with its position
  // A joiner's read (RedisBackend::read_since_time): the messages are every one published
  // since the floor (none was trimmed away).
  bool complete = false;
};

// A random epoch (never 0).
uint64_t new_epoch_value();

class RedisBackend;

struct HubState {
  mutable std::mutex mu;
  std::shared_ptr<RedisBackend> redis;  // set by Hub::connect_redis (under mu)
  std::shared_ptr<RedisBackend> backend() const {
    std::lock_guard lock(mu);
    return redis;
  }
  std::unordered_map<std::string, std::shared_ptr<Topic>> topics;
  std::unordered_map<std::string, std::shared_ptr<const TopicOptions>> configured;
  std::shared_ptr<const TopicOptions> defaults = std::make_shared<const TopicOptions>();
  std::shared_ptr<HubTotals> totals = std::make_shared<HubTotals>();

  std::shared_ptr<Topic> find(std::string_view name) const;
  std::shared_ptr<Topic> find_or_create(std::string_view name, const std::shared_ptr<HubState>& self);
  std::shared_ptr<const TopicOptions> options_for(std::string_view name) const;  // under mu
  // Forgets a topic with no subscribers and no history (its position starts a new epoch if
  // it is used again).
  void release_if_unused(const std::shared_ptr<Topic>& topic);
};

struct SubscriptionState {
  struct Held {
    MessagePtr message;
    std::shared_ptr<const TopicOptions> options;
  };
  // What most subscriptions never use, made by the first that does (extra()): a plain
  // connection subscriber (a WebSocket or SSE stream on a topic) then holds 80 bytes here
  // (inside its connection's Sink, for the first) instead of 272.
  struct Extras {
    std::function<void(const MessagePtr&)> callback;  // a callback subscriber
    // A callback subscriber's own state, kept alive while its callback runs (the callback
    // may end its subscription). Only callbacks need it: no enable_shared_from_this, whose
    // 16 bytes every connection subscriber would carry.
    std::weak_ptr<SubscriptionState> self;
    std::function<void(Recovery)> on_recovery;
    std::optional<std::string> member_id;  // presence
    // With Redis, while the recovery is read (recovery == kPending): the position to
    // recover from, and the live messages that arrive meanwhile, handed over after the
    // recovered ones. They are bounded by the topic's max_pending_bytes: past it they are
    // dropped and the recovery ends kUnrecoverable (the subscriber is told, never left with
    // a silent gap).
    StreamPosition since;
    std::vector<Held> held;
    std::size_t held_bytes = 0;
    bool held_overflow = false;
  };
  Extras& extra() {
    if (!extras) extras = std::make_unique<Extras>();
    return *extras;
  }
  bool has_callback() const noexcept { return extras && extras->callback; }

  // Set once at subscribe and kept after the end (its ref is the subscription's loop, read
  // by a cancel from another thread): no LoopRef of its own.
  std::shared_ptr<LocalTopic> local;
  // A connection (else extras->callback). Not owning: the connection's handler owns it and
  // detaches it (ending its subscriptions) before it goes, so an active subscription's sink
  // is alive.
  Sink* sink = nullptr;
  std::unique_ptr<Extras> extras;
  SubscriptionState* sink_next = nullptr;  // the connection's next one, after Sink::first_
  uint64_t last_offset = 0;
  uint64_t epoch = 0;
  StreamPosition position;
  Recovery recovery = Recovery::kNotRequested;
  bool send_position = false;
  bool active = false;
  // With Redis, a live subscriber that began before this process received its topic from
  // Redis: its live messages are held like a recovery's until finish_join.
  bool joining = false;
  bool waiting() const noexcept { return joining || recovery == Recovery::kPending; }
  const LoopRef& loop() const noexcept { return local->ref; }
};

// What a WebSocket connection or an SSE stream does with the hub's messages: writes them to
// its socket while the socket keeps up, else keeps them in a backlog (shared pointers, no
// copies) that a pump moves to the socket as it drains, applying the topic's slow-consumer
// policy when the unsent bytes would pass the limit. One sink per connection, shared by its
// subscriptions; it outlives the handler while a pump runs (the handler detaches it).
// It holds the connection's first subscription itself: the common connection, subscribed
// to one topic, has one block (and one control block) for its hub state, not two.
// Two kinds of connection, told apart by a flag rather than a vtable, and no stream pointer
// of its own (the handler's, while attached): 16 bytes less for every subscribed connection.
class Sink : public std::enable_shared_from_this<Sink> {
 public:
  enum class Outcome : uint8_t { kSent, kQueued, kDropped, kDisconnected, kClosed, kSkipped };
  explicit Sink(websocket::WebSocketHandler& h) noexcept : websocket_(&h) {}
  explicit Sink(web::EventSourceHandler& h) noexcept : event_source_(&h), is_event_source_(true) {}
  // The connection's sink (made by its first subscription, or again after it detached);
  // raises if the connection is closed.
  static std::shared_ptr<Sink> of(websocket::WebSocketHandler& h);
  static std::shared_ptr<Sink> of(web::EventSourceHandler& h);

  // One message for this connection under `options`' policy (`with_position`: the
  // subscription's SubscribeOptions::send_position).
  Outcome offer(const MessagePtr& message, bool with_position, const TopicOptions& options,
                uint64_t& dropped);
  // `count` messages of the topic never reached this connection (its loop fell behind):
  // kDisconnect closes it (kDisconnected), the others count them as dropped.
  Outcome missed(uint64_t count, const TopicOptions& options, uint64_t& dropped);
  // The connection ended (or its handler is going away): its subscriptions end, the backlog
  // is dropped and nothing more is written.
  void detach() noexcept;
  // Links `s` among the connection's subscriptions (the sink's own, first_, is one without
  // a link: the others are linked after it, through first_.sink_next).
  void add_subscription(SubscriptionState* s) noexcept;
  // std::invalid_argument if this connection already has a subscription to `topic` (it
  // would receive each message twice).
  void check_not_subscribed(std::string_view topic) const;
  void remove_subscription(SubscriptionState* s) noexcept;
  bool attached() const noexcept { return attached_; }
  // A subscription of this connection, not yet on any topic: the first one is the sink's
  // own (sharing its ownership: a Subscription keeps the whole sink alive), later ones are
  // blocks of their own. The sink's own is used once, never again after it ended (an old
  // handle, or a Redis reply on its way, may still name it).
  std::shared_ptr<SubscriptionState> new_subscription();

 private:
  // What differs between the two kinds (pubsub_sink.cpp).
  bool writable() const noexcept;  // the connection is open
  // An event stream is text: binary messages are counted as undeliverable.
  bool accepts(const Message& m) const noexcept;
  std::size_t size_of(const Message& m, bool with_position) const noexcept;
  void write(const Message& m, bool with_position);  // into the stream's queue
  void disconnect(int code, const std::string& reason);
  // The connection's stream (while attached: the handler is alive).
  const std::shared_ptr<IOStream>& stream() const noexcept;

  struct Queued {
    MessagePtr message;
    std::size_t size;
    bool with_position;
  };
  // A list, not a deque: libstdc++'s empty deque already holds 576 bytes (its map and a
  // first block). Made by the first message that waits, freed when the pump emptied it:
  // most subscribers never queue anything.
  struct Backlog {
    std::list<Queued> items;
    std::size_t bytes = 0;
  };
  bool backlog_empty() const noexcept { return !backlog_ || backlog_->items.empty(); }
  void clear_backlog() noexcept { backlog_.reset(); }
  std::size_t pending() const noexcept;
  // offer() without the counting.
  Outcome place(const MessagePtr& message, bool with_position, const TopicOptions& options,
                uint64_t& dropped);
  static Outcome counted(Outcome outcome, const TopicOptions& options, uint64_t dropped);
  void make_room(const Message& m, std::size_t need, const TopicOptions& options,
                 uint64_t& dropped);
  void start_pump();
  Task<> pump();
  union {
    websocket::WebSocketHandler* websocket_;
    web::EventSourceHandler* event_source_;
  };
  std::unique_ptr<Backlog> backlog_;
  // The connection's first subscription; its sink_next heads the list of the others (most
  // connections have one: a vector would cost its header and a heap block).
  SubscriptionState first_;
  bool is_event_source_ = false;
  bool pumping_ = false;
  bool first_taken_ = false;  // first_ was handed out (new_subscription)
  bool attached_ = true;      // (the four share a word)
};

// Removes a subscription from its topic (its loop thread).
void unsubscribe(SubscriptionState& s) noexcept;

// Asks Redis for what `s` missed since s->since (s->recovery is kPending); the result is
// handed to finish_recovery on s's loop.
void request_recovery(const std::shared_ptr<RedisBackend>& backend,
                      const std::shared_ptr<SubscriptionState>& s, const std::string& topic,
                      const TopicOptions& options);
// Delivers the recovered messages (if they are exactly what s missed) and then the live
// ones held meanwhile; reports the result to on_recovery. On s's loop.
void finish_recovery(const std::shared_ptr<SubscriptionState>& s, HistoryRead read);
// A joiner's fill: the messages published since it subscribed (if Redis could give every
// one), then the live ones held meanwhile, each once; if some could not be filled in, none
// of the read, recovery() = kUnrecoverable and on_recovery is told. On s's loop.
void finish_join(const std::shared_ptr<SubscriptionState>& s, const HistoryRead& read);
// Runs the user's on_recovery once, if any (an exception is logged).
void report_recovery(SubscriptionState& s);

}  // namespace tornado::pubsub::detail
