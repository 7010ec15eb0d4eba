// pubsub: the hub — topics, publishing across loop threads, subscriptions, history and
// recovery, presence. The ordering argument is in internal/pubsub_state.h.
#include <algorithm>
#include <random>

#include "internal/describe_exception.h"
#include "internal/pubsub_redis.h"
#include "internal/pubsub_state.h"
#include "internal/pubsub_wire.h"
#include "internal/websocket_frame.h"
#include "tornado/escape.h"
#include "tornado/log.h"
#include "tornado/metrics.h"

namespace tornado::pubsub {

using detail::HubState;
using detail::LocalTopic;
using detail::SubscriptionState;
using detail::Topic;

namespace {

}  // namespace

namespace detail {
uint64_t new_epoch_value() {
  static std::mutex mu;
  static std::mt19937_64 gen{std::random_device{}()};
  std::lock_guard lock(mu);
  uint64_t e;
  do {
    e = gen() >> 1;  // positive as a signed number too, for clients that parse it so
  } while (e == 0);
  return e;
}
}  // namespace detail

namespace {

bool is_utf8(std::string_view s) {
  websocket::detail::Utf8Validator v;
  return v.feed(s) && v.complete();
}

}  // namespace

namespace detail {

// ---- Topic / HubState ------------------------------------------------------------------------

void Topic::trim_history(std::chrono::steady_clock::time_point now) {
  const std::size_t keep = options->history_size;
  while (history.size() > keep) history.pop_front();
  if (options->history_ttl) {
    while (!history.empty() && now - history.front().published > *options->history_ttl) {
      history.pop_front();
    }
  }
}

MessagePtr Topic::publish_locked(std::shared_ptr<Message> message,
                                 std::optional<StreamPosition> given) {
  if (given) {
    if (given->epoch != epoch) {
      epoch = given->epoch;  // Redis started the topic's stream again (or we first hear of it)
      history.clear();
      offset = 0;
    } else if (given->offset <= offset) {
      return nullptr;  // already had it (the catch-up after a reconnection and a live copy)
    } else if (given->offset != offset + 1) {
      history.clear();  // this process missed some: the history it keeps stays gapless
    }
    offset = given->offset;
    message->position_ = *given;
  } else {
    message->position_ = {epoch, ++offset};
  }
  count_published();
  if (options->history_size > 0) {
    const auto now = std::chrono::steady_clock::now();
    history.push_back({message, now});
    trim_history(now);
  } else {
    history.clear();
  }
  MessagePtr shared = std::move(message);
  // The options go with the message: configure() may replace them (under mu) while a loop
  // delivers.
  const std::size_t size = shared->data().size();
  for (const auto& local : locals) {
    // A loop that fell behind gets nothing more past the bound (one message always fits):
    // its subscribers learn of the skipped ones from one report queued behind the rest.
    const std::size_t queued = local->queued_bytes.load(std::memory_order_relaxed);
    if (queued > 0 && queued + size > options->max_queued_bytes) {
      if (local->skipped.fetch_add(1, std::memory_order_relaxed) == 0) {
        local->ref.add_callback([local, o = options] { local->report_skipped(*o); });
      }
      continue;
    }
    local->queued_bytes.fetch_add(size, std::memory_order_relaxed);
    local->ref.add_callback([local, shared, o = options] { local->deliver(shared, o); });
  }
  return shared;
}

std::shared_ptr<Topic> HubState::find(std::string_view name) const {
  std::lock_guard lock(mu);
  auto it = topics.find(std::string(name));
  return it == topics.end() ? nullptr : it->second;
}

std::shared_ptr<const TopicOptions> HubState::options_for(std::string_view name) const {
  auto it = configured.find(std::string(name));
  return it == configured.end() ? defaults : it->second;
}

std::shared_ptr<Topic> HubState::find_or_create(std::string_view name,
                                                const std::shared_ptr<HubState>& self) {
  std::lock_guard lock(mu);
  auto [it, inserted] = topics.try_emplace(std::string(name));
  if (inserted) {
    auto t = std::make_shared<Topic>();
    t->name = it->first;
    t->hub = self;
    t->totals = totals;
    t->options = options_for(name);
    t->epoch = new_epoch_value();
    it->second = std::move(t);
  }
  return it->second;
}

void HubState::release_if_unused(const std::shared_ptr<Topic>& topic) {
  std::lock_guard lock(mu);
  std::lock_guard tlock(topic->mu);
  if (!topic->locals.empty() || topic->options->history_size > 0) return;
  auto it = topics.find(topic->name);
  if (it != topics.end() && it->second == topic) {
    topics.erase(it);
    topic->released = true;
  }
}

// ---- LocalTopic ------------------------------------------------------------------------------

void LocalTopic::offer(SubscriptionState& s, const MessagePtr& message,
                       const TopicOptions& options, uint64_t& dropped) {
  const uint64_t offset = message->position().offset;
  if (s.epoch != message->position().epoch) {
    // The topic's stream began again (Redis lost its data, or the subscription began
    // before this process heard the topic's epoch from Redis): count from the new start.
    s.epoch = message->position().epoch;
    s.last_offset = 0;
  }
  if (offset <= s.last_offset) return;
  s.last_offset = offset;
  if (s.has_callback()) {
    // The callback may end its own subscription (destroy its Subscription): its closure
    // lives until it returns.
    auto keep = s.extras->self.lock();
    metrics::detail::hub_delivered();
    try {
      s.extras->callback(message);
    } catch (...) {
      app_log().error("Exception in a pubsub callback on {}: {}", topic->name,
                      tornado::detail::describe_exception(std::current_exception()));
    }
    return;
  }
  auto sink = s.sink->shared_from_this();  // a disconnect below may end this subscription
  switch (sink->offer(message, s.send_position, options, dropped)) {
    case Sink::Outcome::kDisconnected:
      topic->count_disconnected();
      break;
    case Sink::Outcome::kSkipped:
      topic->count_undeliverable();
      break;
    default:
      break;
  }
}

template <typename F>
void LocalTopic::each_subscriber(F&& f) {
  ++delivering;
  // Subscriptions added meanwhile (by a callback) are not visited: they began after it.
  const std::size_t n = subs.size();
  for (std::size_t i = 0; i < n; ++i) {
    SubscriptionState* s = subs[i];  // a removal during the pass leaves a hole (nullptr)
    if (s && s->active) f(*s);
  }
  if (--delivering == 0 && has_holes) {
    subs.erase(std::remove(subs.begin(), subs.end(), nullptr), subs.end());
    has_holes = false;
  }
}

void LocalTopic::deliver(const MessagePtr& message,
                         const std::shared_ptr<const TopicOptions>& options) {
  queued_bytes.fetch_sub(message->data().size(), std::memory_order_relaxed);
  uint64_t dropped = 0;
  each_subscriber([&](SubscriptionState& s) {
    if (!s.waiting()) return offer(s, message, *options, dropped);
    // Kept until the recovered or filled-in messages are delivered (finish_recovery,
    // finish_join), within the topic's max_pending_bytes: past it they are dropped, counted,
    // and the recovery ends kUnrecoverable.
    auto& x = s.extra();
    if (x.held_overflow) {
      ++dropped;
      return;
    }
    x.held_bytes += message->data().size();
    if (x.held_bytes > options->max_pending_bytes) {
      x.held_overflow = true;
      dropped += x.held.size() + 1;
      x.held.clear();
    } else {
      x.held.push_back({message, options});
    }
  });
  topic->count_dropped(dropped);
}

void LocalTopic::report_skipped(const TopicOptions& options) {
  const uint64_t count = skipped.exchange(0, std::memory_order_relaxed);
  if (count == 0) return;
  uint64_t dropped = 0;
  std::size_t disconnected = 0;
  each_subscriber([&](SubscriptionState& s) {
    if (s.waiting()) {
      auto& x = s.extra();
      if (!x.held_overflow) dropped += x.held.size();
      dropped += count;
      x.held_overflow = true;  // the recovery cannot be whole: it ends kUnrecoverable
      x.held.clear();
    } else if (s.has_callback()) {
      dropped += count;
      metrics::detail::hub_dropped(static_cast<uint8_t>(options.slow_consumer), count);
    } else if (auto sink = s.sink;
               sink->missed(count, options, dropped) == Sink::Outcome::kDisconnected) {
      topic->count_disconnected();
      ++disconnected;
    }
  });
  topic->count_dropped(dropped);
  if (disconnected > 0) {  // one line for the loop, however many subscribers it had
    gen_log().info("pubsub: disconnected {} subscriber(s) of {} whose loop fell {} messages behind",
                   disconnected, topic->name, count);
  }
}

void LocalTopic::remove(SubscriptionState* s) noexcept {
  auto it = std::find(subs.begin(), subs.end(), s);
  if (it == subs.end()) return;
  if (delivering) {
    *it = nullptr;
    has_holes = true;
  } else {
    subs.erase(it);
  }
}

namespace {

void publish_presence(const std::shared_ptr<HubState>& hub, const std::string& topic,
                      const char* event, const std::string& client_id,
                      const nlohmann::json& info);

}  // namespace

void unsubscribe(SubscriptionState& s) noexcept {
  if (!s.active) return;
  s.active = false;
  if (s.sink) s.sink->remove_subscription(&s);
  std::shared_ptr<LocalTopic> local = s.local;  // kept: its ref names the loop (cancel)
  std::shared_ptr<Topic> topic = local->topic;
  local->remove(&s);
  bool left = false;
  nlohmann::json info;
  bool empty;
  {
    std::lock_guard lock(topic->mu);
    topic->subscribers.fetch_sub(1, std::memory_order_relaxed);
    topic->totals->subscribers.fetch_sub(1, std::memory_order_relaxed);
    if (local->subs.empty() || (local->has_holes && std::all_of(local->subs.begin(),
                                                                local->subs.end(),
                                                                [](auto* p) { return !p; }))) {
      std::erase(topic->locals, local);
    }
    if (s.extras && s.extras->member_id) {
      auto it = topic->members.find(*s.extras->member_id);
      if (it != topic->members.end() && --it->second.first == 0) {
        info = std::move(it->second.second);
        topic->members.erase(it);
        left = true;
      }
    }
    empty = topic->locals.empty();
    // A subscriber from now on begins before the next SUBSCRIBE lands (RedisBackend::reconcile).
    if (empty) {
      topic->redis_live = false;
      topic->joiners.clear();  // every one has left
    }
  }
  auto hub = topic->hub.lock();
  if (!hub) return;
  try {
    if (left) publish_presence(hub, topic->name, "leave", *s.extras->member_id, info);
    if (empty) {
      if (auto backend = hub->backend()) backend->topic_unused(topic->name);
    }
  } catch (...) {
  }
  if (empty) hub->release_if_unused(topic);
}

}  // namespace detail

// ---- Subscription ----------------------------------------------------------------------------

Subscription& Subscription::operator=(Subscription&& other) noexcept {
  if (this != &other) {
    cancel();
    state_ = std::move(other.state_);
  }
  return *this;
}

Subscription::~Subscription() { cancel(); }

void Subscription::cancel() noexcept {
  if (!state_) return;
  std::shared_ptr<SubscriptionState> s = std::move(state_);
  // Another thread than the subscription's loop: the loop ends it (its lists are that
  // thread's), unless the loop is gone and nobody else touches them.
  IOLoop* here = IOLoop::current_or_null();
  if (!here || !s->loop().refers_to(*here)) {
    try {
      if (s->loop().add_callback([s] { detail::unsubscribe(*s); })) return;
    } catch (...) {
    }
  }
  detail::unsubscribe(*s);
}

bool Subscription::active() const noexcept { return state_ && state_->active; }

Recovery Subscription::recovery() const noexcept {
  return state_ ? state_->recovery : Recovery::kNotRequested;
}

StreamPosition Subscription::position() const noexcept {
  return state_ ? state_->position : StreamPosition{};
}

// ---- Hub -------------------------------------------------------------------------------------

Hub::Hub() : state_(std::make_shared<HubState>()) {}
Hub::~Hub() {
  if (auto backend = state_->backend()) backend->stop();  // on its home loop's thread
}

Hub& Hub::instance() {
  static Hub* hub = new Hub();  // never destroyed: subscriptions may end after main returns
  return *hub;
}

std::string Hub::presence_topic(std::string_view topic) {
  return "$presence:" + std::string(topic);
}

namespace {

void check_options(const TopicOptions& options) {
  if (!websocket::detail::is_valid_close_code(static_cast<uint32_t>(options.disconnect_code)) ||
      options.disconnect_code < 1000) {
    throw std::invalid_argument("TopicOptions: disconnect_code is not a valid close code");
  }
}

}  // namespace

void Hub::configure(std::string_view topic, TopicOptions options) {
  check_options(options);
  auto shared = std::make_shared<const TopicOptions>(std::move(options));
  std::shared_ptr<Topic> t;
  {
    std::lock_guard lock(state_->mu);
    state_->configured[std::string(topic)] = shared;
    auto it = state_->topics.find(std::string(topic));
    if (it != state_->topics.end()) t = it->second;
  }
  if (t) {
    std::lock_guard lock(t->mu);
    t->options = shared;
  }
}

void Hub::set_default_options(TopicOptions options) {
  check_options(options);
  auto shared = std::make_shared<const TopicOptions>(std::move(options));
  std::lock_guard lock(state_->mu);
  state_->defaults = std::move(shared);
  for (auto& [name, t] : state_->topics) {
    if (state_->configured.count(name)) continue;
    std::lock_guard tlock(t->mu);
    t->options = state_->defaults;
  }
}

StreamPosition Hub::publish(std::string_view topic, std::string_view data, bool binary,
                            std::string_view key) {
  if (!binary && !is_utf8(data)) {
    throw std::invalid_argument("pubsub: a text message must be valid UTF-8 (publish binary)");
  }
  if (auto backend = state_->backend()) {
    std::shared_ptr<const TopicOptions> o;
    {
      std::lock_guard lock(state_->mu);
      o = state_->options_for(topic);
    }
    backend->publish(std::string(topic), detail::encode_wire(data, binary, key),
                     backend->stream_bounds(*o));
    return {};
  }
  std::shared_ptr<Topic> t = state_->find(topic);
  if (!t) {
    bool keeps_history;
    {
      std::lock_guard lock(state_->mu);
      keeps_history = state_->options_for(topic)->history_size > 0;
    }
    // Nobody listens and nothing is kept: the message goes nowhere.
    if (!keeps_history) return {};
    t = state_->find_or_create(topic, state_);
  }
  auto message = std::make_shared<Message>(t->name, std::string(data), binary, std::string(key));
  std::lock_guard lock(t->mu);
  MessagePtr shared = t->publish_locked(std::move(message));
  return shared->position();
}

namespace detail {
namespace {

void publish_presence(const std::shared_ptr<HubState>& hub, const std::string& topic,
                      const char* event, const std::string& client_id,
                      const nlohmann::json& info) {
  nlohmann::json j = {{"event", event}, {"client_id", client_id}, {"info", info}};
  const std::string name = Hub::presence_topic(topic);
  const std::string text = escape::json_encode(j);
  std::shared_ptr<Topic> t = hub->find(name);
  if (!t) return;
  auto message = std::make_shared<Message>(t->name, text, false, client_id);
  std::lock_guard lock(t->mu);
  t->publish_locked(std::move(message));
}

}  // namespace
}  // namespace detail

Subscription Hub::subscribe(std::string_view topic, std::function<void(const MessagePtr&)> callback,
                            SubscribeOptions options) {
  if (!callback) throw std::invalid_argument("pubsub: subscribe with an empty callback");
  auto s = std::make_shared<SubscriptionState>();
  s->extra().callback = std::move(callback);
  s->extra().self = s;
  return subscribe_impl(topic, std::move(s), options);
}

Subscription Hub::subscribe_impl(std::string_view topic, std::shared_ptr<SubscriptionState> s,
                                 SubscribeOptions& options) {
  IOLoop& loop = IOLoop::current();
  s->send_position = options.send_position;
  std::vector<MessagePtr> missed;
  std::shared_ptr<const TopicOptions> options_then;  // for the missed messages
  bool joined = false;
  bool first_here = false;  // the process's first subscriber of the topic
  bool redis_recovery = false;
  bool joining = false;  // with Redis: begins before this process receives the topic
  // Taken before any topic's mutex (the hub's mutex comes first).
  const std::shared_ptr<detail::RedisBackend> backend = state_->backend();
  std::shared_ptr<Topic> t;
  for (;;) {
    t = state_->find_or_create(topic, state_);
    std::unique_lock lock(t->mu);
    // Its last subscriber (another thread) may have made the hub forget it meanwhile.
    if (t->released) continue;
    std::shared_ptr<LocalTopic> local;
    for (const auto& l : t->locals) {
      if (l->ref.refers_to(loop)) local = l;
    }
    if (!local) {
      first_here = t->locals.empty();
      local = std::make_shared<LocalTopic>(t, loop);
      t->locals.push_back(local);
    }
    s->local = local;
    s->epoch = t->epoch;
    s->last_offset = t->offset;
    if (options.since && backend && t->options->history_size > 0) {
      // With Redis the history that counts is Redis's (this process may have missed some):
      // read it, holding the live messages meanwhile.
      s->recovery = Recovery::kPending;
      s->extra().since = *options.since;
      redis_recovery = true;
    } else if (options.since) {
      const StreamPosition since = *options.since;
      t->trim_history(std::chrono::steady_clock::now());
      const uint64_t oldest = t->history.empty() ? t->offset + 1
                                                 : t->history.front().message->position().offset;
      if (since.epoch == t->epoch && since.offset <= t->offset && since.offset + 1 >= oldest) {
        s->recovery = Recovery::kRecovered;
        for (const auto& e : t->history) {
          if (e.message->position().offset > since.offset) missed.push_back(e.message);
        }
      } else {
        s->recovery = Recovery::kUnrecoverable;
      }
    }
    if (backend && !redis_recovery && !t->redis_live && backend->stream_bounds(*t->options).size) {
      // What is published until the process's SUBSCRIBE lands is filled in from Redis's
      // stream of the topic: everything since Redis's clock read at least the floor.
      s->joining = true;
      joining = true;
      t->joiners.push_back({s, s->loop(), backend->redis_time_floor_ms()});
    }
    s->position = {t->epoch, t->offset};
    options_then = t->options;
    if (options.member && t->options->track_members) {
      auto& entry = t->members[options.member->client_id];
      joined = entry.first++ == 0;
      entry.second = options.member->info;
      s->extra().member_id = options.member->client_id;
    }
    t->subscribers.fetch_add(1, std::memory_order_relaxed);
    t->totals->subscribers.fetch_add(1, std::memory_order_relaxed);
    local->subs.push_back(s.get());
    s->active = true;
    break;
  }
  if (s->sink) s->sink->add_subscription(s.get());
  // Before the recovery: it may end the subscription (a slow consumer disconnected), and
  // then the leave must follow the join.
  if (joined) {
    detail::publish_presence(state_, t->name, "join", options.member->client_id,
                             options.member->info);
  }
  if ((first_here || joining) && backend) backend->topic_used(t->name);
  if (redis_recovery) {
    if (options.on_recovery) s->extra().on_recovery = std::move(options.on_recovery);
    detail::request_recovery(backend, s, t->name, *options_then);
    return Subscription(std::move(s));
  }
  // The missed messages go first, in order; anything published since is queued behind this
  // call on the loop and is skipped if it is one of them (last_offset).
  if (!missed.empty()) {
    auto local = s->local;
    const uint64_t live_from = s->last_offset;
    s->last_offset = missed.front()->position().offset - 1;
    uint64_t dropped = 0;
    for (const auto& m : missed) {
      if (!s->active) break;
      // To this subscription alone: a LocalTopic pass would reach the others.
      local->offer(*s, m, *options_then, dropped);
    }
    t->count_dropped(dropped);
    if (s->active && s->last_offset < live_from) s->last_offset = live_from;
  }
  if (options.since) {
    if (options.on_recovery) s->extra().on_recovery = std::move(options.on_recovery);
    detail::report_recovery(*s);
  } else if (joining) {
    // Told if the fill falls short.
    if (options.on_recovery) s->extra().on_recovery = std::move(options.on_recovery);
  }
  return Subscription(std::move(s));
}

Task<> Hub::connect_redis(RedisOptions options) {
  if (state_->backend()) throw std::logic_error("Hub::connect_redis: already connected");
  auto backend = std::make_shared<detail::RedisBackend>(state_, std::move(options));
  co_await backend->start();
  std::vector<std::string> in_use;
  {
    std::lock_guard lock(state_->mu);
    state_->redis = backend;
    for (const auto& [name, t] : state_->topics) in_use.push_back(name);
  }
  for (const auto& name : in_use) backend->topic_used(name);
}

uint64_t Hub::redis_lost() const {
  auto backend = state_->backend();
  return backend ? backend->lost() : 0;
}

bool Hub::redis_connected() const {
  auto backend = state_->backend();
  return backend && backend->connected();
}

std::size_t Hub::subscriber_count(std::string_view topic) const {
  auto t = state_->find(topic);
  return t ? t->subscribers.load(std::memory_order_relaxed) : 0;
}

std::vector<Member> Hub::members(std::string_view topic) const {
  std::vector<Member> out;
  auto t = state_->find(topic);
  if (!t) return out;
  std::lock_guard lock(t->mu);
  out.reserve(t->members.size());
  for (const auto& [id, entry] : t->members) out.push_back({id, entry.second});
  return out;
}

std::vector<MessagePtr> Hub::history(std::string_view topic) const {
  std::vector<MessagePtr> out;
  auto t = state_->find(topic);
  if (!t) return out;
  std::lock_guard lock(t->mu);
  t->trim_history(std::chrono::steady_clock::now());
  out.reserve(t->history.size());
  for (const auto& e : t->history) out.push_back(e.message);
  return out;
}

TopicStats Hub::totals() const {
  const detail::HubTotals& t = *state_->totals;
  TopicStats st;
  st.subscribers = t.subscribers.load(std::memory_order_relaxed);
  st.published = t.published.load(std::memory_order_relaxed);
  st.dropped = t.dropped.load(std::memory_order_relaxed);
  st.disconnected = t.disconnected.load(std::memory_order_relaxed);
  st.undeliverable = t.undeliverable.load(std::memory_order_relaxed);
  return st;
}

TopicStats Hub::stats(std::string_view topic) const {
  TopicStats st;
  auto t = state_->find(topic);
  if (!t) return st;
  std::lock_guard lock(t->mu);
  st.subscribers = t->subscribers.load(std::memory_order_relaxed);
  st.published = t->published.load(std::memory_order_relaxed);
  st.dropped = t->dropped.load(std::memory_order_relaxed);
  st.disconnected = t->disconnected.load(std::memory_order_relaxed);
  st.undeliverable = t->undeliverable.load(std::memory_order_relaxed);
  st.position = {t->epoch, t->offset};
  return st;
}

}  // namespace tornado::pubsub
