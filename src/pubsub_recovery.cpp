// pubsub: recovery from the Redis history (a subscriber's missed messages read back from
// Redis while its live ones wait), and Hub::fetch_history. The local recovery is in
// pubsub_hub.cpp (subscribe_impl): it is synchronous, from the topic's own history.
#include "internal/describe_exception.h"
#include "internal/pubsub_redis.h"
#include "internal/pubsub_state.h"
#include "tornado/log.h"

namespace tornado::pubsub {

namespace detail {

void request_recovery(const std::shared_ptr<RedisBackend>& backend,
                      const std::shared_ptr<SubscriptionState>& s, const std::string& topic,
                      const TopicOptions& options) {
  std::weak_ptr<SubscriptionState> weak = s;
  LoopRef loop = s->loop();
  // On the home loop with Redis's answer: handed to the subscriber's loop.
  backend->read_history(topic, s->extra().since.offset, RedisBackend::HistoryBounds::of(options),
                        [weak, loop](HistoryRead read) mutable {
                          loop.add_callback([weak, read = std::move(read)]() mutable {
                            if (auto s = weak.lock()) finish_recovery(s, std::move(read));
                          });
                        });
}

namespace {

// The read holds exactly the messages after `since` up to the topic's last one.
bool covers(const HistoryRead& read, StreamPosition since) {
  if (!read.ok || read.head.epoch != since.epoch || since.offset > read.head.offset) return false;
  uint64_t next = since.offset + 1;
  for (const auto& m : read.messages) {
    if (m->position().offset != next) return false;
    ++next;
  }
  return next == read.head.offset + 1;
}

}  // namespace

void finish_recovery(const std::shared_ptr<SubscriptionState>& s, HistoryRead read) {
  if (!s->active || s->recovery != Recovery::kPending) return;
  std::shared_ptr<LocalTopic> local = s->local;
  std::shared_ptr<Topic> topic = local->topic;
  std::shared_ptr<const TopicOptions> options;
  {
    std::lock_guard lock(topic->mu);
    options = topic->options;
  }
  auto& x = s->extra();  // (made by the subscribe that asked for this recovery)
  const bool recovered = !x.held_overflow && covers(read, x.since);
  std::vector<SubscriptionState::Held> held = std::move(x.held);
  x.held.clear();
  x.held_bytes = 0;
  s->recovery = recovered ? Recovery::kRecovered : Recovery::kUnrecoverable;
  uint64_t dropped = 0;
  if (recovered) {
    s->epoch = x.since.epoch;
    s->last_offset = x.since.offset;
    for (const auto& m : read.messages) {
      if (!s->active) break;
      local->offer(*s, m, *options, dropped);
    }
  } else if (read.ok) {
    // Live from Redis's position at the read: what came before, the subscriber reloads.
    s->epoch = read.head.epoch;
    s->last_offset = read.head.offset;
  } else {
    s->epoch = 0;  // Redis did not answer: every held message follows
    s->last_offset = 0;
  }
  s->position = {s->epoch, s->last_offset};
  report_recovery(*s);
  for (const auto& h : held) {
    if (!s->active) break;
    local->offer(*s, h.message, *h.options, dropped);
  }
  topic->count_dropped(dropped);
}

void finish_join(const std::shared_ptr<SubscriptionState>& s, const HistoryRead& read) {
  if (!s->active || !s->joining) return;
  s->joining = false;
  std::shared_ptr<LocalTopic> local = s->local;
  std::shared_ptr<Topic> topic = local->topic;
  std::shared_ptr<const TopicOptions> options;
  {
    std::lock_guard lock(topic->mu);
    options = topic->options;
  }
  auto& x = s->extra();
  const bool whole = read.ok && read.complete && !x.held_overflow;
  std::vector<SubscriptionState::Held> held = std::move(x.held);
  x.held.clear();
  x.held_bytes = 0;
  x.held_overflow = false;
  if (read.ok) {
    s->epoch = read.head.epoch;
    s->last_offset = whole && !read.messages.empty()
                         ? read.messages.front()->position().offset - 1
                         : read.head.offset;
  }
  s->position = {s->epoch, s->last_offset};
  uint64_t dropped = 0;
  if (whole) {
    for (const auto& m : read.messages) {
      if (!s->active) break;
      local->offer(*s, m, *options, dropped);
    }
  } else {
    // Some of what was published since it subscribed is not in Redis (or did not fit the
    // held bound): it goes on live from Redis's position at the read, and is told.
    s->recovery = Recovery::kUnrecoverable;
    gen_log().warn("pubsub: a new subscriber of {} may have missed messages published before "
                   "the topic's SUBSCRIBE landed ({})",
                   topic->name, !read.ok       ? "Redis did not answer"
                                : !read.complete ? "they are no longer in Redis's stream"
                                                 : "too many were held meanwhile");
    report_recovery(*s);
  }
  for (const auto& h : held) {
    if (!s->active) break;
    local->offer(*s, h.message, *h.options, dropped);
  }
  topic->count_dropped(dropped);
}

void report_recovery(SubscriptionState& s) {
  if (!s.extras || !s.extras->on_recovery) return;
  auto callback = std::move(s.extras->on_recovery);
  s.extras->on_recovery = nullptr;
  try {
    callback(s.recovery);
  } catch (...) {
    app_log().error("Exception in a pubsub on_recovery callback: {}",
                    tornado::detail::describe_exception(std::current_exception()));
  }
}

}  // namespace detail

Task<std::vector<MessagePtr>> Hub::fetch_history(std::string topic) {
  std::shared_ptr<detail::RedisBackend> backend = state_->backend();
  if (!backend) co_return history(topic);
  std::shared_ptr<const TopicOptions> options;
  {
    std::lock_guard lock(state_->mu);
    options = state_->options_for(topic);
  }
  if (options->history_size == 0) co_return std::vector<MessagePtr>{};
  auto result = std::make_shared<Future<detail::HistoryRead>>();
  LoopRef here = IOLoop::current().ref();
  backend->read_history(topic, std::nullopt, detail::RedisBackend::HistoryBounds::of(*options),
                        [here, result](detail::HistoryRead read) mutable {
                          here.add_callback([result, read = std::move(read)]() mutable {
                            result->set_result(std::move(read));
                          });
                        });
  detail::HistoryRead read = co_await Future<detail::HistoryRead>(*result);
  co_return std::vector<MessagePtr>(read.messages.begin(), read.messages.end());
}

}  // namespace tornado::pubsub
