// pubsub: a connection as a subscriber — the sink that writes the hub's messages to a
// WebSocket or an event stream, keeps a backlog behind a slow socket, and applies the
// topic's slow-consumer policy.
#include "internal/pubsub_state.h"
#include "tornado/log.h"
#include "tornado/metrics.h"
#include "tornado/web/event_source.h"
#include "tornado/websocket.h"

namespace tornado::pubsub {

namespace detail {

namespace {

// Messages go straight into the socket's queue while it holds less than this (a burst is
// still coalesced into large writes); past it they wait in the backlog, where the policies
// can still drop or replace them.
constexpr std::size_t kDirectLimit = 16 * 1024;

}  // namespace

std::size_t Sink::pending() const noexcept {
  return stream()->write_buffer_size() + (backlog_ ? backlog_->bytes : 0);
}

std::shared_ptr<SubscriptionState> Sink::new_subscription() {
  if (!first_taken_) {
    first_taken_ = true;
    first_.sink = this;
    return std::shared_ptr<SubscriptionState>(shared_from_this(), &first_);
  }
  auto s = std::make_shared<SubscriptionState>();
  s->sink = this;
  return s;
}

void Sink::add_subscription(SubscriptionState* s) noexcept {
  if (s == &first_) return;  // listed by being first_
  s->sink_next = first_.sink_next;
  first_.sink_next = s;
}

void Sink::remove_subscription(SubscriptionState* s) noexcept {
  if (s == &first_) return;  // its sink_next stays the head of the others
  for (SubscriptionState** p = &first_.sink_next; *p; p = &(*p)->sink_next) {
    if (*p == s) {
      *p = std::exchange(s->sink_next, nullptr);
      return;
    }
  }
}

void Sink::check_not_subscribed(std::string_view topic) const {
  // first_ is active only once handed out and subscribed.
  for (const SubscriptionState* s = &first_; s; s = s->sink_next) {
    if (s->active && s->local->topic->name == topic) {
      throw std::invalid_argument("pubsub: this connection is already subscribed to " +
                                  std::string(topic));
    }
  }
}

void Sink::detach() noexcept {
  if (!attached_) return;
  attached_ = false;
  clear_backlog();
  SubscriptionState* s = std::exchange(first_.sink_next, nullptr);
  unsubscribe(first_);  // (nothing if it was never used or already ended)
  while (s) {
    SubscriptionState* next = std::exchange(s->sink_next, nullptr);
    unsubscribe(*s);
    s = next;
  }
}

void Sink::make_room(const Message& m, std::size_t need, const TopicOptions& options,
                     uint64_t& dropped) {
  if (!backlog_) return;
  auto& items = backlog_->items;
  for (auto it = items.begin(); it != items.end() && pending() + need > options.max_pending_bytes;) {
    if (it->message->topic() == m.topic()) {
      backlog_->bytes -= it->size;
      it = items.erase(it);
      ++dropped;
    } else {
      ++it;
    }
  }
}

// The library's counts (metrics.h) of what became of one offer.
Sink::Outcome Sink::counted(Outcome outcome, const TopicOptions& options, uint64_t dropped) {
  static_assert(static_cast<std::size_t>(SlowConsumerPolicy::kConflate) + 1 ==
                metrics::kPolicyNames.size());
  metrics::detail::hub_dropped(static_cast<uint8_t>(options.slow_consumer), dropped);
  if (outcome == Outcome::kSent || outcome == Outcome::kQueued) {
    metrics::detail::hub_delivered();
  } else if (outcome == Outcome::kDisconnected) {
    metrics::detail::hub_disconnected();
  }
  return outcome;
}

Sink::Outcome Sink::offer(const MessagePtr& message, bool with_position,
                          const TopicOptions& options, uint64_t& dropped) {
  const uint64_t before = dropped;
  const Outcome outcome = place(message, with_position, options, dropped);
  return counted(outcome, options, dropped - before);
}

Sink::Outcome Sink::place(const MessagePtr& message, bool with_position,
                          const TopicOptions& options, uint64_t& dropped) {
  if (!attached_ || !writable()) return Outcome::kClosed;
  if (!accepts(*message)) return Outcome::kSkipped;
  const std::size_t size = size_of(*message, with_position);
  if (options.slow_consumer == SlowConsumerPolicy::kConflate && !message->key().empty() &&
      backlog_) {
    // The queued value of this key is dropped; the new one then takes the path of any
    // message (the limit applies to it, and it goes last: offsets stay in order).
    auto& items = backlog_->items;
    for (auto it = items.begin(); it != items.end(); ++it) {
      if (it->message->key() == message->key() && it->message->topic() == message->topic()) {
        backlog_->bytes -= it->size;
        items.erase(it);
        ++dropped;
        break;
      }
    }
  }
  // A message larger than the limit still goes to a subscriber with nothing pending.
  if (pending() > 0 && pending() + size > options.max_pending_bytes) {
    switch (options.slow_consumer) {
      case SlowConsumerPolicy::kDisconnect:
        gen_log().info("pubsub: disconnecting a slow subscriber of {} ({} bytes pending)",
                       message->topic(), pending());
        disconnect(options.disconnect_code, options.disconnect_reason);
        detach();
        return Outcome::kDisconnected;
      case SlowConsumerPolicy::kDropNewest:
        ++dropped;
        return Outcome::kDropped;
      case SlowConsumerPolicy::kDropOldest:
      case SlowConsumerPolicy::kConflate:
        make_room(*message, size, options, dropped);
        if (pending() > 0 && pending() + size > options.max_pending_bytes) {
          ++dropped;  // the socket's own queue holds the rest: nothing left to drop
          return Outcome::kDropped;
        }
        break;
    }
  }
  if (backlog_empty() && stream()->write_buffer_size() < kDirectLimit) {
    try {
      write(*message, with_position);
    } catch (const StreamClosedError&) {
      return Outcome::kClosed;
    } catch (const websocket::WebSocketClosedError&) {
      return Outcome::kClosed;
    }
    return Outcome::kSent;
  }
  if (!backlog_) backlog_ = std::make_unique<Backlog>();
  backlog_->items.push_back({message, size, with_position});
  backlog_->bytes += size;
  start_pump();
  return Outcome::kQueued;
}

Sink::Outcome Sink::missed(uint64_t count, const TopicOptions& options, uint64_t& dropped) {
  if (!attached_ || !writable()) return Outcome::kClosed;
  if (options.slow_consumer == SlowConsumerPolicy::kDisconnect) {
    // Logged once per loop and topic by the caller (report_skipped), not per subscriber.
    disconnect(options.disconnect_code, options.disconnect_reason);
    detach();
    return counted(Outcome::kDisconnected, options, 0);
  }
  dropped += count;
  return counted(Outcome::kDropped, options, count);
}

void Sink::start_pump() {
  if (pumping_) return;
  pumping_ = true;
  spawn_detached(
      [](std::shared_ptr<Sink> self) -> Task<> { co_await self->pump(); }(shared_from_this()),
      [](std::exception_ptr) {});
}

Task<> Sink::pump() {
  while (attached_ && !backlog_empty()) {
    try {
      // Held across the wait: the handler (the stream's owner) may go meanwhile.
      std::shared_ptr<IOStream> stream = this->stream();
      co_await stream->write(std::string_view());  // the socket's queue drained
    } catch (...) {
      break;
    }
    while (attached_ && !backlog_empty() && stream()->write_buffer_size() < kDirectLimit) {
      if (!writable()) {
        clear_backlog();
        break;
      }
      Queued q = std::move(backlog_->items.front());
      backlog_->items.pop_front();
      backlog_->bytes -= q.size;
      try {
        write(*q.message, q.with_position);
      } catch (...) {
        clear_backlog();
      }
    }
  }
  if (backlog_empty()) clear_backlog();  // an idle subscriber holds no backlog block
  pumping_ = false;
}

// ---- the two kinds of connection -----------------------------------------------------------

std::shared_ptr<Sink> Sink::of(websocket::WebSocketHandler& h) {
  if (!h.is_open()) throw websocket::WebSocketClosedError();
  if (!h.hub_sink_ || !h.hub_sink_->attached()) h.hub_sink_ = std::make_shared<Sink>(h);
  return h.hub_sink_;
}

std::shared_ptr<Sink> Sink::of(web::EventSourceHandler& h) {
  if (!h.is_open()) throw StreamClosedError();
  if (!h.hub_sink_ || !h.hub_sink_->attached()) h.hub_sink_ = std::make_shared<Sink>(h);
  return h.hub_sink_;
}

bool Sink::writable() const noexcept {
  return is_event_source_ ? event_source_->is_open() : websocket_->is_open();
}

bool Sink::accepts(const Message& m) const noexcept { return !is_event_source_ || !m.binary(); }

std::size_t Sink::size_of(const Message& m, bool with_position) const noexcept {
  if (!is_event_source_) {
    return m.websocket_frame().size() + (with_position ? 24 : 0);  // at most 16 + 1 + 20
  }
  // What an event stream writes: the event (made once per message, for every stream) and,
  // at most, its chunk framing. A message of many short lines is several times larger as an
  // event. The position is the event's id: with_position changes nothing.
  try {
    return m.sse_event().size() + 20;
  } catch (...) {  // out of memory making it: the message's own size is a floor
    return m.data().size() + 20;
  }
}

void Sink::write(const Message& m, bool with_position) {
  if (is_event_source_) {
    event_source_->send_prepared(m.sse_event());
  } else {
    websocket_->send_prepared(m, with_position);
  }
}

void Sink::disconnect(int code, const std::string& reason) {
  if (is_event_source_) {
    event_source_->close();
  } else {
    websocket_->close(code, reason);
  }
}

const std::shared_ptr<IOStream>& Sink::stream() const noexcept {
  return is_event_source_ ? event_source_->stream_ : websocket_->hub_stream();
}

}  // namespace detail

Subscription Hub::subscribe(std::string_view topic, websocket::WebSocketHandler& connection,
                            SubscribeOptions options) {
  std::shared_ptr<detail::Sink> sink = detail::Sink::of(connection);
  sink->check_not_subscribed(topic);
  return subscribe_impl(topic, sink->new_subscription(), options);
}

Subscription Hub::subscribe(std::string_view topic, web::EventSourceHandler& stream,
                            SubscribeOptions options) {
  std::shared_ptr<detail::Sink> sink = detail::Sink::of(stream);
  sink->check_not_subscribed(topic);
  return subscribe_impl(topic, sink->new_subscription(), options);
}

}  // namespace tornado::pubsub
