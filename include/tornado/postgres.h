// tornado/postgres.h — PostgreSQL on the IOLoop (beyond Tornado; the role momoko/asyncpg play
// for Python): libpq's non-blocking API driven by the loop, never a blocking libpq call on it.
//
//   auto conn = co_await postgres::connect("postgresql:///app?host=/run/postgresql");
//   auto r = co_await conn->query("SELECT id, name FROM users WHERE id = $1", 42);
//   for (const auto& row : r) use(row.get<std::int64_t>("id"), row.get<std::string>(1));
//   std::int64_t n = co_await conn->execute("DELETE FROM users WHERE name = $1", name);
//
//   postgres::Pool pool(postgres::PoolOptions{.conninfo = "...", .max_size = 10});
//   auto r2 = co_await pool.query("SELECT now()");        // acquire, query, release
//   { auto c = co_await pool.acquire(); auto tx = co_await c->begin();
//     co_await c->execute("..."); co_await tx.commit(); }  // back to the pool at scope end
//
//   auto listener = co_await postgres::Listener::connect(conninfo);
//   co_await listener.listen("news");
//   postgres::Notification n = co_await listener.next();   // n.channel, n.payload
//
// Parameters are passed as arguments after the SQL (never formatted into it): strings, numbers,
// bool, std::nullopt (NULL) or std::optional of those; all go in libpq's text format. Results
// come back as text too; Row::get<T> converts with clear errors (docs/postgres.md).
//
// Errors: postgres::Error (SQLSTATE and the server's message, for a failed statement),
// postgres::ConnectionError (cannot connect, connection lost), TimeoutError (a query that
// passed its timeout: it was cancelled on the server). Thread rule: loop thread only.
#pragma once

#include <charconv>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "tornado/ioloop.h"
#include "tornado/locks.h"
#include "tornado/task.h"

struct pg_conn;
struct pg_result;

namespace tornado::postgres {

// A statement the server refused, or a client-side failure (then sqlstate() is empty).
class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what, std::string sqlstate = {}, std::string message = {},
                 std::string detail = {})
      : std::runtime_error(what),
        sqlstate_(std::move(sqlstate)),
        message_(std::move(message)),
        detail_(std::move(detail)) {}
  // The five-character SQLSTATE code ("42P01", "23505"), empty if the server sent none.
  const std::string& sqlstate() const noexcept { return sqlstate_; }
  // The server's primary message, without the severity and code.
  const std::string& message() const noexcept { return message_; }
  const std::string& detail() const noexcept { return detail_; }

 private:
  std::string sqlstate_, message_, detail_;
};

// Cannot connect, or the connection was lost (a statement in flight may or may not have run).
class ConnectionError : public Error {
 public:
  using Error::Error;
};

using Param = std::optional<std::string>;
using Params = std::vector<Param>;

// How one argument becomes a text-format parameter.
inline Param to_param(std::nullopt_t) { return std::nullopt; }
inline Param to_param(std::string v) { return v; }
inline Param to_param(std::string_view v) { return std::string(v); }
inline Param to_param(const char* v) { return v ? Param(std::string(v)) : std::nullopt; }
inline Param to_param(bool v) { return std::string(v ? "t" : "f"); }
Param to_param(double v);  // shortest form that reads back the same (17 digits at most)
template <typename T>
  requires(std::is_integral_v<T> && !std::is_same_v<T, bool> && !std::is_same_v<T, char>)
Param to_param(T v) {
  return std::to_string(v);
}
template <typename T>
Param to_param(const std::optional<T>& v) {
  return v ? to_param(*v) : std::nullopt;
}

class Result;

// One row of a Result (a view: valid while its Result lives).
class Row {
 public:
  // The column's text, std::nullopt for NULL. By index (0-based) or by name; a bad index or
  // unknown name throws Error.
  std::optional<std::string_view> operator[](int column) const;
  std::optional<std::string_view> operator[](std::string_view name) const;
  bool is_null(int column) const;
  // The value converted: std::string, std::int64_t (and other integers), double, bool
  // ('t'/'f'), or std::optional of those (NULL -> nullopt). NULL into a non-optional, or text
  // that does not convert, throws Error naming the column.
  template <typename T>
  T get(int column) const;
  template <typename T>
  T get(std::string_view name) const {
    return get<T>(column_index(name));
  }
  int size() const;
  int index() const noexcept { return row_; }

 private:
  friend class Result;
  Row(const Result* result, int row) : result_(result), row_(row) {}
  int column_index(std::string_view name) const;
  template <typename T>
  static T convert(std::string_view text, const Row& row, int column);
  [[noreturn]] void bad_value(int column, const char* type) const;
  const Result* result_;
  int row_;
};

// The outcome of one statement: rows (for SELECT and RETURNING) and the command's status.
class Result {
 public:
  Result() = default;
  int size() const noexcept;  // rows
  bool empty() const noexcept { return size() == 0; }
  int columns() const noexcept;
  std::string column_name(int column) const;  // throws Error when out of range
  // -1 if there is no such column.
  int column_index(std::string_view name) const noexcept;
  Row operator[](int row) const;  // throws Error when out of range
  Row at(int row) const { return (*this)[row]; }
  // Rows the command affected (INSERT/UPDATE/DELETE/SELECT...; 0 if the command reports none).
  std::int64_t affected_rows() const noexcept;
  // The command tag, e.g. "INSERT 0 1".
  std::string command_tag() const;

  class iterator {
   public:
    using value_type = Row;
    using difference_type = std::ptrdiff_t;
    iterator() = default;
    Row operator*() const { return (*result_)[row_]; }
    iterator& operator++() {
      ++row_;
      return *this;
    }
    iterator operator++(int) {
      auto copy = *this;
      ++row_;
      return copy;
    }
    bool operator==(const iterator& o) const noexcept { return row_ == o.row_; }

   private:
    friend class Result;
    iterator(const Result* r, int row) : result_(r), row_(row) {}
    const Result* result_ = nullptr;
    int row_ = 0;
  };
  iterator begin() const { return iterator(this, 0); }
  iterator end() const { return iterator(this, size()); }

 private:
  friend class Row;
  friend class Connection;
  // The rows as they arrived (libpq's single-row mode), copied into one block: each cell's
  // text one after another, where each ends, which are NULL (postgres_result.cpp).
  struct Data;
  explicit Result(std::shared_ptr<const Data> data) : data_(std::move(data)) {}
  // For Connection, building one as rows arrive. add_row returns the bytes the row added.
  static std::shared_ptr<Data> start_building();
  static std::size_t add_row(Data& data, pg_result* row);
  static void finish_building(Data& data, pg_result* last);  // columns, tag, affected rows
  static std::size_t bytes(const Data& data) noexcept;
  std::shared_ptr<const Data> data_;
};

struct Notification {
  std::string channel;
  std::string payload;
  int backend_pid = 0;  // the server process that sent it
};

struct ConnectOptions {
  Duration connect_timeout = 10s;
  // Default timeout of every statement on the connection (none: wait as long as it takes).
  // When it passes, the statement is cancelled on the server (PQcancel, on the executor) and
  // raises TimeoutError; a connection whose statement does not end within cancel_grace after
  // that is closed.
  std::optional<Duration> query_timeout;
  Duration cancel_grace = 5s;
  // Notifications received and not yet taken by next_notification(); more are dropped (and
  // counted) so a listener that never reads cannot grow without bound.
  std::size_t max_pending_notifications = 10000;
  // The most memory one statement's rows may take here (their text plus 8 bytes per value).
  // Rows are read one at a time as the server sends them (libpq's single-row mode); past the
  // bound the statement is cancelled on the server and raises Error, and nothing more is
  // kept, so a SELECT of a huge table cannot exhaust the process.
  std::size_t max_result_bytes = 64 * 1024 * 1024;
};

class Transaction;

// One connection. Statements are sent one at a time, in the order they were asked for; more
// than one may be awaited at once (they queue). Made by connect(); used through shared_ptr.
class Connection : public std::enable_shared_from_this<Connection> {
 public:
  // Use postgres::connect().
  Connection(pg_conn* conn, ConnectOptions options);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // `conninfo` is a URI (postgresql://user:pw@host/db?...) or key=value pairs, as libpq takes
  // them. Note: libpq resolves a host *name* with a blocking lookup; use an IP address,
  // hostaddr= or a socket directory for a connect that never blocks the loop.
  static Task<std::shared_ptr<Connection>> connect(std::string conninfo,
                                                   ConnectOptions options = {});

  // A statement with $1, $2, ... placeholders and its parameters (see to_param).
  template <typename... Args>
  Task<Result> query(std::string sql, Args&&... args) {
    return query_params(std::move(sql), Params{to_param(std::forward<Args>(args))...},
                        std::nullopt);
  }
  // As query, returning the rows the command affected.
  template <typename... Args>
  Task<std::int64_t> execute(std::string sql, Args&&... args) {
    return execute_params(std::move(sql), Params{to_param(std::forward<Args>(args))...});
  }
  // The general form: explicit parameters and a timeout for this statement alone
  // (std::nullopt: the connection's query_timeout).
  Task<Result> query_params(std::string sql, Params params, std::optional<Duration> timeout);
  Task<std::int64_t> execute_params(std::string sql, Params params);

  // BEGIN; the Transaction commits or rolls back (and rolls back when dropped open).
  Task<Transaction> begin();

  // LISTEN / UNLISTEN (the channel quoted as an identifier).
  Task<> listen(std::string channel);
  Task<> unlisten(std::string channel);
  // The next notification received on this connection (also those that arrived during
  // statements); TimeoutError after `timeout`; ConnectionError once the connection closed and
  // none is left.
  Task<Notification> next_notification(std::optional<Duration> timeout = std::nullopt);
  std::size_t pending_notifications() const noexcept { return notifications_.size(); }
  std::uint64_t notifications_dropped() const noexcept { return notifications_dropped_; }

  void set_query_timeout(std::optional<Duration> t) noexcept { options_.query_timeout = t; }
  // True once the connection is closed or lost.
  bool closed() const noexcept { return conn_ == nullptr; }
  // Reads what the server sent since the loop last looked (one non-blocking read) and says
  // whether the connection is still open: a pool checks this before it hands out an idle
  // connection, so one the server closed meanwhile (a restart) is seen before it is used.
  bool alive();
  // No statement running or queued.
  bool idle() const noexcept { return !current_ && queue_.empty(); }
  // Nothing but ROLLBACKs running or queued (a dropped Transaction's): what Pool accepts back.
  bool only_rollback_pending() const noexcept;
  // Inside a transaction block (also an aborted one), from the server's last report.
  bool in_transaction() const noexcept;
  // Closes now; statements in flight or queued fail with ConnectionError.
  void close();
  int server_version() const noexcept;
  int backend_pid() const noexcept;

 private:
  struct Op {
    std::string sql;
    Params params;
    std::optional<Duration> timeout;
    Future<Result> done;
  };
  void enqueue(std::shared_ptr<Op> op);
  void start_next();
  void on_events(uint32_t events);
  void flush();
  bool read_input();
  void collect_notifications();
  void collect_results();
  void finish_current();
  void on_timeout();
  void send_cancel();
  void over_result_bound(bool still_running);
  void fail(const std::string& why);
  void set_interest(uint32_t events);

  pg_conn* conn_;
  ConnectOptions options_;
  LoopRef loop_;
  int fd_ = -1;
  uint32_t interest_ = 0;
  std::shared_ptr<Op> current_;
  std::deque<std::shared_ptr<Op>> queue_;
  std::exception_ptr current_error_;
  std::shared_ptr<Result::Data> current_rows_;  // the current statement's rows so far
  bool rows_over_bound_ = false;                 // past max_result_bytes: the rest is dropped
  TimeoutHandle timer_;
  bool cancel_sent_ = false;      // for the current statement
  bool cancel_in_flight_ = false;  // PQcancel still running on the executor
  std::deque<Notification> notifications_;
  std::uint64_t notifications_dropped_ = 0;
  locks::Condition notified_;
};

// postgres::connect(conninfo): Connection::connect.
inline Task<std::shared_ptr<Connection>> connect(std::string conninfo,
                                                 ConnectOptions options = {}) {
  return Connection::connect(std::move(conninfo), options);
}

// An open transaction block. commit() or rollback() ends it; dropped open, it rolls back
// (the ROLLBACK is queued on the connection, before anything asked after).
class Transaction {
 public:
  Transaction(Transaction&& o) noexcept : conn_(std::exchange(o.conn_, nullptr)) {}
  Transaction& operator=(Transaction&&) = delete;
  ~Transaction();
  Task<> commit();
  Task<> rollback();
  bool open() const noexcept { return conn_ != nullptr; }

 private:
  friend class Connection;
  explicit Transaction(std::shared_ptr<Connection> c) : conn_(std::move(c)) {}
  std::shared_ptr<Connection> conn_;
};

// A connection of its own that LISTENs; next() yields notifications in order. When the
// connection is lost (a server restart), next() connects again and re-LISTENs the channels,
// retrying with a growing delay (up to 1 s) until its timeout; notifications sent while it
// was disconnected are lost (PostgreSQL keeps none): reconnects() tells the application to
// re-read what it follows. set_reconnect(false): next() raises ConnectionError instead.
class Listener {
 public:
  static Task<Listener> connect(std::string conninfo, ConnectOptions options = {});
  Task<> listen(std::string channel);
  Task<> unlisten(std::string channel);
  Task<Notification> next(std::optional<Duration> timeout = std::nullopt);
  Connection& connection() { return *conn_; }
  void set_reconnect(bool on) noexcept { reconnect_ = on; }
  std::uint64_t reconnects() const noexcept { return reconnects_; }

 private:
  Listener(std::shared_ptr<Connection> c, std::string conninfo, ConnectOptions options)
      : conn_(std::move(c)), conninfo_(std::move(conninfo)), options_(options) {}
  std::shared_ptr<Connection> conn_;
  std::string conninfo_;
  ConnectOptions options_;
  std::vector<std::string> channels_;
  bool reconnect_ = true;
  std::uint64_t reconnects_ = 0;
};

struct PoolOptions {
  std::string conninfo;
  std::size_t max_size = 10;                 // open connections at most
  std::size_t max_waiters = 1000;            // acquire() calls queued at most; more: Error
  Duration acquire_timeout = 10s;            // a queued acquire() raises TimeoutError after
  ConnectOptions connect;                    // for each connection (timeouts)
};

class Pool;
namespace detail {
struct PoolState;
}

// A connection taken from a Pool; goes back when destroyed. On return, a connection that is
// closed or still running a statement is discarded (its place freed for a new one); one left
// inside a transaction is rolled back first.
class PooledConnection {
 public:
  PooledConnection(PooledConnection&& o) noexcept
      : pool_(std::move(o.pool_)), conn_(std::move(o.conn_)) {}
  PooledConnection& operator=(PooledConnection&&) = delete;
  ~PooledConnection() { release(); }
  Connection* operator->() const noexcept { return conn_.get(); }
  Connection& operator*() const noexcept { return *conn_; }
  const std::shared_ptr<Connection>& get() const noexcept { return conn_; }
  void release();

 private:
  friend class Pool;
  PooledConnection(std::shared_ptr<detail::PoolState> p, std::shared_ptr<Connection> c)
      : pool_(std::move(p)), conn_(std::move(c)) {}
  std::shared_ptr<detail::PoolState> pool_;
  std::shared_ptr<Connection> conn_;
};

// Connections made on demand up to max_size, reused; waiters queued (bounded, with a timeout).
// A connection lost (server restart) is dropped and replaced by a new one on the next acquire.
class Pool {
 public:
  explicit Pool(PoolOptions options);
  ~Pool();  // closes the idle connections; connections out return to nowhere (closed)
  Pool(const Pool&) = delete;
  Pool& operator=(const Pool&) = delete;

  Task<PooledConnection> acquire();
  template <typename... Args>
  Task<Result> query(std::string sql, Args&&... args) {
    return query_params(std::move(sql), Params{to_param(std::forward<Args>(args))...});
  }
  template <typename... Args>
  Task<std::int64_t> execute(std::string sql, Args&&... args) {
    return execute_params(std::move(sql), Params{to_param(std::forward<Args>(args))...});
  }
  Task<Result> query_params(std::string sql, Params params);
  Task<std::int64_t> execute_params(std::string sql, Params params);

  std::size_t size() const noexcept;     // open connections (idle and taken)
  std::size_t idle() const noexcept;     // idle connections
  std::size_t waiting() const noexcept;  // queued acquire() calls
  // Closes the idle connections and fails the waiters; later acquires raise Error.
  void close();

 private:
  std::shared_ptr<detail::PoolState> state_;
};

// ---- Row::get ----
template <typename T>
struct is_optional : std::false_type {};
template <typename T>
struct is_optional<std::optional<T>> : std::true_type {};

template <typename T>
T Row::convert(std::string_view text, const Row& row, int column) {
  if constexpr (std::is_same_v<T, std::string>) {
    return std::string(text);
  } else if constexpr (std::is_same_v<T, std::string_view>) {
    return text;
  } else if constexpr (std::is_same_v<T, bool>) {
    if (text == "t") return true;
    if (text == "f") return false;
    row.bad_value(column, "bool");
  } else if constexpr (std::is_integral_v<T>) {
    T v{};
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc() || end != text.data() + text.size()) row.bad_value(column, "integer");
    return v;
  } else if constexpr (std::is_same_v<T, double>) {
    double v = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc() || end != text.data() + text.size()) row.bad_value(column, "double");
    return v;
  } else {
    static_assert(!sizeof(T), "Row::get: std::string, string_view, bool, an integer or double");
  }
}

template <typename T>
T Row::get(int column) const {
  auto text = (*this)[column];
  if constexpr (is_optional<T>::value) {
    if (!text) return std::nullopt;
    return convert<typename T::value_type>(*text, *this, column);
  } else {
    if (!text) bad_value(column, nullptr);
    return convert<T>(*text, *this, column);
  }
}

}  // namespace tornado::postgres
