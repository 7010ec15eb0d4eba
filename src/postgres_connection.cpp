// postgres: one connection driven by the IOLoop through libpq's non-blocking API. The socket
// stays registered for READ (edge-triggered) all its life, so notifications and a server that
// goes away are seen between statements too; WRITE is added only while PQflush has bytes left.
#include <libpq-fe.h>
#include <sys/socket.h>

#include <cerrno>

#include <fmt/format.h>

#include <algorithm>
#include <string>

#include "tornado/gen.h"
#include "tornado/log.h"
#include "tornado/postgres.h"

namespace tornado::postgres {

namespace {

std::string trimmed(const char* text) {
  std::string s = text ? text : "";
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

std::string field(const PGresult* r, int code) {
  const char* v = PQresultErrorField(r, code);
  return v ? v : "";
}

// A failed statement's error: SQLSTATE, severity and the primary message.
Error statement_error(const PGresult* r) {
  std::string state = field(r, PG_DIAG_SQLSTATE);
  std::string message = field(r, PG_DIAG_MESSAGE_PRIMARY);
  std::string severity = field(r, PG_DIAG_SEVERITY);
  if (message.empty()) message = trimmed(PQresultErrorMessage(r));
  std::string what = "postgres: " + (severity.empty() ? std::string("ERROR") : severity);
  if (!state.empty()) what += " " + state;
  what += ": " + message;
  return Error(what, std::move(state), std::move(message), field(r, PG_DIAG_MESSAGE_DETAIL));
}

// libpq prints notices (WARNING, NOTICE) on stderr by default; they go to the log instead.
void log_notice(void*, const char* message) { gen_log().debug("postgres: {}", trimmed(message)); }

// The fd handler of one step of the connect sequence, removed whatever ends the step.
struct ConnectWait {
  IOLoop& loop;
  int fd;
  ~ConnectWait() { loop.remove_handler(fd); }
};

bool is_rollback(const std::string& sql) { return sql == "ROLLBACK"; }

// libpq takes C strings: a NUL byte would end the text there, silently ("admin\0x" sent as
// "admin"). PostgreSQL text cannot hold one anyway, so it is refused, as psycopg does.
void refuse_nul(std::string_view text, std::string_view what) {
  if (text.find('\0') != std::string_view::npos) {
    throw Error(fmt::format("postgres: {} contains a NUL byte, which PostgreSQL text cannot "
                            "hold",
                            what));
  }
}

std::string fmt_seconds(double s) { return fmt::format("{:g} s", s); }

}  // namespace

Task<std::shared_ptr<Connection>> Connection::connect(std::string conninfo,
                                                      ConnectOptions options) {
  std::unique_ptr<PGconn, decltype(&PQfinish)> conn(PQconnectStart(conninfo.c_str()), &PQfinish);
  if (!conn) throw ConnectionError("postgres: cannot connect: out of memory");
  PGconn* raw = conn.get();
  if (PQstatus(raw) == CONNECTION_BAD) {
    throw ConnectionError("postgres: cannot connect: " + trimmed(PQerrorMessage(raw)));
  }
  IOLoop& loop = IOLoop::current();
  const double deadline = loop.time() + options.connect_timeout.count();
  // Right after PQconnectStart, libpq's sequence starts as if the last poll said WRITING.
  PostgresPollingStatusType status = PGRES_POLLING_WRITING;
  while (status != PGRES_POLLING_OK) {
    if (status == PGRES_POLLING_FAILED) {
      throw ConnectionError("postgres: cannot connect: " + trimmed(PQerrorMessage(raw)));
    }
    // The socket may change between steps (another host or address of the list): a handler
    // added afresh for each step also reports a readiness that is already there.
    const int fd = PQsocket(raw);
    if (fd < 0) throw ConnectionError("postgres: cannot connect: " + trimmed(PQerrorMessage(raw)));
    Future<void> ready;
    loop.add_handler(
        fd, [ready](int, uint32_t) mutable { if (!ready.done()) ready.set_result(); },
        status == PGRES_POLLING_READING ? IOLoop::READ : IOLoop::WRITE);
    ConnectWait wait{loop, fd};
    const double left = deadline - loop.time();
    bool timed_out = left <= 0;
    if (!timed_out) {
      try {
        co_await with_timeout(Duration(left), ready);
      } catch (const TimeoutError&) {
        timed_out = true;
      }
    }
    if (timed_out) {
      throw ConnectionError("postgres: cannot connect: no answer within " +
                            fmt_seconds(options.connect_timeout.count()));
    }
    status = PQconnectPoll(raw);
  }
  if (PQsetnonblocking(raw, 1) != 0) {
    throw ConnectionError("postgres: cannot connect: " + trimmed(PQerrorMessage(raw)));
  }
  PQsetNoticeProcessor(raw, &log_notice, nullptr);
  co_return std::make_shared<Connection>(conn.release(), options);
}

Connection::Connection(pg_conn* conn, ConnectOptions options)
    : conn_(conn), options_(options), loop_(IOLoop::current().ref()), fd_(PQsocket(conn)) {
  interest_ = IOLoop::READ;
  IOLoop::current().add_handler(fd_, [this](int, uint32_t events) { on_events(events); },
                                interest_);
}

Connection::~Connection() { close(); }

void Connection::close() { fail("postgres: connection closed"); }

void Connection::fail(const std::string& why) {
  if (!conn_) return;
  if (IOLoop* loop = loop_.get()) {
    loop->remove_handler(fd_);
    loop->remove_timeout(timer_);
  }
  PQfinish(conn_);
  conn_ = nullptr;
  auto error = std::make_exception_ptr(ConnectionError(why));
  current_rows_.reset();  // a statement's rows so far (up to max_result_bytes): not kept
  std::shared_ptr<Op> op = std::move(current_);
  if (op && !op->done.done()) op->done.set_exception(error);
  while (!queue_.empty()) {
    op = std::move(queue_.front());
    queue_.pop_front();
    if (!op->done.done()) op->done.set_exception(error);
  }
  notified_.notify_all();  // next_notification() sees the end
}

bool Connection::alive() {
  if (conn_ && idle()) on_events(IOLoop::READ);
  return conn_ != nullptr;
}

bool Connection::in_transaction() const noexcept {
  if (!conn_) return false;
  const auto s = PQtransactionStatus(conn_);
  return s == PQTRANS_INTRANS || s == PQTRANS_INERROR;
}

bool Connection::only_rollback_pending() const noexcept {
  if (current_ && !is_rollback(current_->sql)) return false;
  for (const auto& op : queue_) {
    if (!is_rollback(op->sql)) return false;
  }
  return true;
}

int Connection::server_version() const noexcept { return conn_ ? PQserverVersion(conn_) : 0; }
int Connection::backend_pid() const noexcept { return conn_ ? PQbackendPID(conn_) : 0; }

Task<Result> Connection::query_params(std::string sql, Params params,
                                      std::optional<Duration> timeout) {
  auto self = shared_from_this();  // alive until the statement ends
  refuse_nul(sql, "the SQL");
  for (std::size_t i = 0; i < params.size(); ++i) {
    if (params[i]) refuse_nul(*params[i], fmt::format("parameter ${}", i + 1));
  }
  auto op = std::make_shared<Op>();
  op->sql = std::move(sql);
  op->params = std::move(params);
  op->timeout = timeout ? timeout : options_.query_timeout;
  Future<Result> done = op->done;
  enqueue(std::move(op));
  co_return co_await done;
}

Task<std::int64_t> Connection::execute_params(std::string sql, Params params) {
  Result r = co_await query_params(std::move(sql), std::move(params), std::nullopt);
  co_return r.affected_rows();
}

void Connection::enqueue(std::shared_ptr<Op> op) {
  if (conn_ && !loop_.get()) fail("postgres: connection closed with its loop");
  if (!conn_) {
    op->done.set_exception(ConnectionError("postgres: connection closed"));
    return;
  }
  queue_.push_back(std::move(op));
  start_next();
}

void Connection::start_next() {
  // A cancel request still on its way could hit the next statement instead of the one it was
  // meant for (one that ended by itself meanwhile): libpq's advice is to wait for PQcancel.
  if (cancel_in_flight_) return;
  while (!current_ && !queue_.empty() && conn_) {
    std::shared_ptr<Op> op = std::move(queue_.front());
    queue_.pop_front();
    if (op->done.done()) continue;  // its awaiter was cancelled before it was sent
    std::vector<const char*> values;
    values.reserve(op->params.size());
    for (const Param& p : op->params) values.push_back(p ? p->c_str() : nullptr);
    if (!PQsendQueryParams(conn_, op->sql.c_str(), static_cast<int>(values.size()), nullptr,
                           values.data(), nullptr, nullptr, 0)) {
      const std::string why = trimmed(PQerrorMessage(conn_));
      if (PQstatus(conn_) == CONNECTION_BAD) {
        queue_.push_front(std::move(op));
        fail("postgres: connection lost: " + why);
        return;
      }
      op->done.set_exception(Error("postgres: " + why));
      continue;
    }
    // Rows one at a time as they arrive, so that max_result_bytes can stop a result before
    // libpq holds all of it (only possible right after the send).
    PQsetSingleRowMode(conn_);
    current_ = std::move(op);
    current_error_ = nullptr;
    current_rows_ = Result::start_building();
    rows_over_bound_ = false;
    cancel_sent_ = false;
    if (current_->timeout) {
      timer_ = loop_.get()->call_later(*current_->timeout, [this] { on_timeout(); });
    }
    flush();
  }
}

void Connection::set_interest(uint32_t events) {
  if (events == interest_) return;
  interest_ = events;
  loop_.get()->update_handler(fd_, events);
}

void Connection::flush() {
  const int r = PQflush(conn_);
  if (r < 0) return fail("postgres: connection lost: " + trimmed(PQerrorMessage(conn_)));
  set_interest(r == 1 ? IOLoop::READ | IOLoop::WRITE : IOLoop::READ);
}

void Connection::on_events(uint32_t events) {
  if (!conn_) return;
  if ((events & IOLoop::WRITE) && (interest_ & IOLoop::WRITE)) {
    flush();
    if (!conn_) return;
  }
  // read_input takes the notifications and results of each read as it goes.
  if (!read_input()) return;
  // libpq parses what follows a statement's last row (the notifications the server sends
  // with its end) only when asked for the next result: collect those too.
  collect_notifications();
}

// Edge-triggered: read until the socket is empty. PQconsumeInput reads once per call (more
// only when its buffer filled), so it is called again while the kernel still holds bytes or
// the end of the stream, up to a bound per event; the rest is read on the next iteration.
// What each read brought is taken out of libpq before the next read: libpq keeps unparsed
// input in one buffer that it enlarges to fit, so 64 reads of a fast server's rows before
// any was taken grew it by hundreds of MiB, past max_result_bytes.
bool Connection::read_input() {
  for (int i = 0; i < 64; ++i) {
    if (!PQconsumeInput(conn_) || PQstatus(conn_) == CONNECTION_BAD) {
      fail("postgres: connection lost: " + trimmed(PQerrorMessage(conn_)));
      return false;
    }
    collect_notifications();
    collect_results();
    if (!conn_) return false;
    // A peek tells "empty" (EAGAIN) from "more" and from the end of the stream (0), which
    // only the next PQconsumeInput reports (a server shutting down sends FATAL, then closes).
    char byte;
    if (::recv(fd_, &byte, 1, MSG_PEEK | MSG_DONTWAIT) < 0 &&
        (errno == EAGAIN || errno == EWOULDBLOCK)) {
      return true;
    }
  }
  loop_.get()->add_callback([weak = weak_from_this()] {
    if (auto self = weak.lock()) self->on_events(IOLoop::READ);
  });
  return true;
}

void Connection::collect_notifications() {
  bool any = false;
  while (PGnotify* n = PQnotifies(conn_)) {
    if (notifications_.size() < options_.max_pending_notifications) {
      notifications_.push_back(Notification{n->relname, n->extra ? n->extra : "", n->be_pid});
      any = true;
    } else {
      ++notifications_dropped_;
    }
    PQfreemem(n);
  }
  if (any) notified_.notify_all();
}

void Connection::collect_results() {
  while (conn_ && current_ && !PQisBusy(conn_)) {
    PGresult* r = PQgetResult(conn_);
    if (!r) {
      finish_current();
      continue;
    }
    switch (PQresultStatus(r)) {
      case PGRES_SINGLE_TUPLE:
        if (!rows_over_bound_ && !current_error_) {
          Result::add_row(*current_rows_, r);
          if (Result::bytes(*current_rows_) > options_.max_result_bytes) {
            over_result_bound(/*still_running=*/true);
          }
        }
        PQclear(r);
        break;
      case PGRES_TUPLES_OK:
      case PGRES_COMMAND_OK:
      case PGRES_EMPTY_QUERY:
        if (!rows_over_bound_) {
          Result::finish_building(*current_rows_, r);
          // (rows arrive here too when single-row mode could not be set)
          if (Result::bytes(*current_rows_) > options_.max_result_bytes) {
            over_result_bound(/*still_running=*/false);
          }
        }
        PQclear(r);
        break;
      case PGRES_COPY_IN:
      case PGRES_COPY_OUT:
      case PGRES_COPY_BOTH:
        PQclear(r);
        current_error_ = std::make_exception_ptr(Error("postgres: COPY is not supported"));
        if (current_ && !current_->done.done()) current_->done.set_exception(current_error_);
        return fail("postgres: connection closed after a COPY statement (not supported)");
      default:
        if (!current_error_) current_error_ = std::make_exception_ptr(statement_error(r));
        PQclear(r);
        break;
    }
  }
}

void Connection::finish_current() {
  if (IOLoop* loop = loop_.get()) loop->remove_timeout(timer_);
  std::shared_ptr<Op> op = std::move(current_);
  std::exception_ptr error = std::exchange(current_error_, nullptr);
  Result result(std::exchange(current_rows_, nullptr));
  if (error && cancel_sent_) {
    try {
      std::rethrow_exception(error);
    } catch (const Error& e) {
      if (e.sqlstate() == "57014") {  // query_canceled: our cancel of a statement too slow
        error = std::make_exception_ptr(TimeoutError(
            "postgres: statement cancelled after its timeout of " +
            fmt_seconds(op->timeout ? op->timeout->count() : 0)));
      }
    } catch (...) {
    }
  }
  if (!op->done.done()) {
    if (error) {
      op->done.set_exception(error);
    } else {
      op->done.set_result(std::move(result));
    }
  }
  start_next();
}

// The rows passed max_result_bytes: what was kept is freed, the rest is dropped as it comes,
// and the statement is cancelled on the server so that it stops sending.
void Connection::over_result_bound(bool still_running) {
  rows_over_bound_ = true;
  current_rows_ = Result::start_building();
  current_error_ = std::make_exception_ptr(
      Error("postgres: the statement's rows passed max_result_bytes (" +
            std::to_string(options_.max_result_bytes) +
            " bytes): select fewer (LIMIT, pagination) or raise ConnectOptions::max_result_bytes"));
  if (!still_running || cancel_sent_) return;
  if (IOLoop* loop = loop_.get()) loop->remove_timeout(timer_);
  send_cancel();
}

void Connection::on_timeout() {
  if (!current_ || !conn_) return;
  if (cancel_sent_) {
    // The cancel did not end the statement within the grace time: give up the connection.
    std::shared_ptr<Op> op = std::move(current_);
    if (!op->done.done()) {
      op->done.set_exception(current_error_ ? current_error_
                                            : std::make_exception_ptr(TimeoutError(
                                                  "postgres: statement timed out and did not "
                                                  "end on cancel; connection closed")));
    }
    return fail("postgres: connection closed after a statement ignored its cancel");
  }
  send_cancel();
}

// Off the loop: PQcancel opens a connection of its own and waits for the server's answer. A
// statement still running cancel_grace later costs the connection (on_timeout).
void Connection::send_cancel() {
  cancel_sent_ = true;
  std::shared_ptr<PGcancel> cancel(PQgetCancel(conn_), [](PGcancel* c) { PQfreeCancel(c); });
  if (cancel) {
    IOLoop* loop = loop_.get();
    cancel_in_flight_ = true;
    Future<void> sent = loop->run_in_executor([cancel] {
      char error[256];
      if (!PQcancel(cancel.get(), error, sizeof error)) {
        gen_log().warn("postgres: cancel request failed: {}", trimmed(error));
      }
    });
    loop->add_future<void>(sent, [weak = weak_from_this()](const Future<void>&) {
      if (auto self = weak.lock()) {
        self->cancel_in_flight_ = false;
        self->start_next();
      }
    });
  }
  timer_ = loop_.get()->call_later(options_.cancel_grace, [this] { on_timeout(); });
}

Task<Transaction> Connection::begin() {
  co_await execute_params("BEGIN", Params());
  co_return Transaction(shared_from_this());
}

Task<> Connection::listen(std::string channel) {
  if (!conn_) throw ConnectionError("postgres: connection closed");
  refuse_nul(channel, "the channel name");
  char* quoted = PQescapeIdentifier(conn_, channel.data(), channel.size());
  if (!quoted) throw Error("postgres: bad channel name: " + trimmed(PQerrorMessage(conn_)));
  std::string sql = std::string("LISTEN ") + quoted;
  PQfreemem(quoted);
  co_await execute_params(std::move(sql), Params());
}

Task<> Connection::unlisten(std::string channel) {
  if (!conn_) throw ConnectionError("postgres: connection closed");
  refuse_nul(channel, "the channel name");
  char* quoted = PQescapeIdentifier(conn_, channel.data(), channel.size());
  if (!quoted) throw Error("postgres: bad channel name: " + trimmed(PQerrorMessage(conn_)));
  std::string sql = std::string("UNLISTEN ") + quoted;
  PQfreemem(quoted);
  co_await execute_params(std::move(sql), Params());
}

Task<Notification> Connection::next_notification(std::optional<Duration> timeout) {
  auto self = shared_from_this();
  IOLoop& loop = IOLoop::current();
  const double deadline = timeout ? loop.time() + timeout->count() : 0;
  for (;;) {
    if (!notifications_.empty()) {
      Notification n = std::move(notifications_.front());
      notifications_.pop_front();
      co_return n;
    }
    if (!conn_) throw ConnectionError("postgres: connection closed");
    std::optional<Duration> left;
    if (timeout) left = Duration(deadline - loop.time());
    Future<bool> woken = notified_.wait(left);
    if (!co_await woken) {
      throw TimeoutError("postgres: no notification within " + fmt_seconds(timeout->count()));
    }
  }
}

Transaction::~Transaction() {
  if (!conn_ || conn_->closed()) return;
  // Queued now, so it runs before anything asked of the connection afterwards.
  spawn_detached(
      [](std::shared_ptr<Connection> c) -> Task<> {
        co_await c->execute_params("ROLLBACK", Params());
      }(std::move(conn_)),
      [](std::exception_ptr) {});
}

Task<> Transaction::commit() {
  if (!conn_) throw Error("postgres: the transaction already ended");
  auto c = std::move(conn_);
  co_await c->execute_params("COMMIT", Params());
}

Task<> Transaction::rollback() {
  if (!conn_) throw Error("postgres: the transaction already ended");
  auto c = std::move(conn_);
  co_await c->execute_params("ROLLBACK", Params());
}

Task<Listener> Listener::connect(std::string conninfo, ConnectOptions options) {
  auto c = co_await Connection::connect(conninfo, options);
  co_return Listener(std::move(c), std::move(conninfo), options);
}

Task<> Listener::listen(std::string channel) {
  co_await conn_->listen(channel);
  if (std::find(channels_.begin(), channels_.end(), channel) == channels_.end()) {
    channels_.push_back(std::move(channel));
  }
}

Task<> Listener::unlisten(std::string channel) {
  co_await conn_->unlisten(channel);
  std::erase(channels_, channel);
}

Task<Notification> Listener::next(std::optional<Duration> timeout) {
  IOLoop& loop = IOLoop::current();
  const double deadline = timeout ? loop.time() + timeout->count() : 0;
  auto left = [&]() -> std::optional<Duration> {
    if (!timeout) return std::nullopt;
    return Duration(std::max(0.0, deadline - loop.time()));
  };
  Duration delay = 50ms;
  for (;;) {
    bool lost = false;
    try {
      co_return co_await conn_->next_notification(left());
    } catch (const ConnectionError&) {
      if (!reconnect_) throw;
      lost = true;
    }
    // Lost: connect again and LISTEN to every channel, until the deadline.
    while (lost) {
      try {
        auto c = co_await Connection::connect(conninfo_, options_);
        for (const std::string& channel : channels_) co_await c->listen(channel);
        conn_ = std::move(c);
        ++reconnects_;
        lost = false;
      } catch (const ConnectionError& e) {
        if (timeout && loop.time() + delay.count() >= deadline) {
          throw ConnectionError(std::string("postgres: listener connection lost; ") + e.what());
        }
      }
      if (lost) {
        co_await sleep(delay);
        delay = std::min<Duration>(delay * 2, 1s);
      }
    }
  }
}

}  // namespace tornado::postgres
