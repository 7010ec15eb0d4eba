// postgres.h against a real server: a throwaway cluster per test (postgres_test_util.h),
// skipped only when the PostgreSQL server binaries are not installed.
#include "tornado/postgres.h"

#include <gtest/gtest.h>

#include <sys/socket.h>
#include <sys/un.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "postgres_test_util.h"
#include "tornado/gen.h"
#include "tornado/ioloop.h"

namespace postgres_test {

using namespace tornado;
namespace pg = tornado::postgres;
using tornado::test::PostgresCluster;

// The process's peak RSS since the last reset_peak_rss(), in KiB (VmHWM).
long peak_rss_kib() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::atol(line.c_str() + 6);
  }
  return -1;
}
void reset_peak_rss() { std::ofstream("/proc/self/clear_refs") << "5"; }

class PostgresTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (PostgresCluster::bindir().empty()) {
      GTEST_SKIP() << "PostgreSQL server binaries (initdb, postgres) not found: install the "
                      "postgresql package (scripts/packages.txt)";
    }
    cluster_ = std::make_unique<PostgresCluster>();
  }
  void TearDown() override {
    if (cluster_ && HasFailure()) std::printf("server log:\n%s\n", cluster_->server_log().c_str());
    cluster_.reset();
  }

  template <typename F>
  void run(F&& fn, Duration timeout = 60s) {
    loop_.run_sync(std::forward<F>(fn), timeout);
  }

  IOLoop loop_{true};
  std::unique_ptr<PostgresCluster> cluster_;
};

TEST_F(PostgresTest, ConnectsWithKeyValueAndUri) {
  run([&]() -> Task<> {
    auto a = co_await pg::connect(cluster_->conninfo());
    auto b = co_await pg::connect(cluster_->uri());
    EXPECT_GE(a->server_version(), 100000);
    EXPECT_NE(a->backend_pid(), b->backend_pid());
    auto r = co_await b->query("SELECT current_user AS who");
    EXPECT_EQ(r[0].get<std::string>("who"), "postgres");
  });
}

TEST_F(PostgresTest, BadPasswordIsAClearError) {
  run([&]() -> Task<> {
    try {
      co_await pg::connect(cluster_->conninfo("postgres", "wrong"));
      ADD_FAILURE() << "connected with a wrong password";
    } catch (const pg::ConnectionError& e) {
      EXPECT_NE(std::string(e.what()).find("password authentication failed"), std::string::npos)
          << e.what();
    }
  });
}

TEST_F(PostgresTest, NoServerIsAClearError) {
  cluster_->stop();
  run([&]() -> Task<> {
    try {
      co_await pg::connect(cluster_->conninfo());
      ADD_FAILURE() << "connected with no server";
    } catch (const pg::ConnectionError& e) {
      const std::string what = e.what();
      EXPECT_NE(what.find("postgres: cannot connect"), std::string::npos) << what;
      EXPECT_NE(what.find("No such file or directory"), std::string::npos) << what;
    }
  });
}

TEST_F(PostgresTest, ConnectTimeoutWhenTheServerNeverAnswers) {
  // A socket that accepts connections (the backlog) and never says a word.
  const std::string dir = cluster_->socket_dir() + "/silent";
  std::filesystem::create_directories(dir);
  const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  const std::string path = dir + "/.s.PGSQL.5432";
  std::snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path.c_str());
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0);
  ASSERT_EQ(::listen(fd, 8), 0);
  run([&]() -> Task<> {
    pg::ConnectOptions o;
    o.connect_timeout = 300ms;
    const double start = IOLoop::current().time();
    try {
      co_await pg::connect("host=" + dir + " user=postgres password=secret", o);
      ADD_FAILURE() << "connected to a silent socket";
    } catch (const pg::ConnectionError& e) {
      EXPECT_NE(std::string(e.what()).find("no answer within 0.3 s"), std::string::npos)
          << e.what();
    }
    EXPECT_LT(IOLoop::current().time() - start, 2.0);
  });
  ::close(fd);
}

TEST_F(PostgresTest, LargeParameterIsSentOnWriteReadiness) {
  run([&]() -> Task<> {
    auto c = co_await pg::connect(cluster_->conninfo());
    // 16 MiB: far more than a socket buffer, so PQflush has bytes left several times.
    std::string big(16 << 20, 'x');
    big[12345] = 'y';
    auto r = co_await c->query("SELECT length($1::text) AS n, strpos($1::text, 'y') AS at", big);
    EXPECT_EQ(r[0].get<std::int64_t>("n"), 16 << 20);
    EXPECT_EQ(r[0].get<int>("at"), 12346);
  });
}

TEST_F(PostgresTest, PoolClosesAConnectionReturnedMidStatement) {
  run([&]() -> Task<> {
    pg::PoolOptions o;
    o.conninfo = cluster_->conninfo();
    o.max_size = 1;
    pg::Pool pool(o);
    Future<pg::Result> slow = spawn(pool.query("SELECT pg_sleep(30)"));
    co_await sleep(200ms);
    slow.cancel();  // the awaiter gives up; the statement would run on
    try {
      co_await slow;
    } catch (const CancelledError&) {
    }
    const double start = IOLoop::current().time();
    auto r = co_await pool.query("SELECT 3");  // a new connection, not one busy for 30 s
    EXPECT_EQ(r[0].get<int>(0), 3);
    EXPECT_LT(IOLoop::current().time() - start, 5.0);
    EXPECT_EQ(pool.size(), 1u);
  });
}

TEST_F(PostgresTest, ParameterisedQueryWithNulls) {
  run([&]() -> Task<> {
    auto c = co_await pg::connect(cluster_->conninfo());
    std::optional<std::string> none;
    auto r = co_await c->query(
        "SELECT $1::int + 1 AS n, $2::text AS t, $3::text AS missing, $4::bool AS yes, "
        "$5::float8 AS x, $6::bigint AS big, $7::text AS also_missing",
        41, "it's; DROP TABLE x --", std::nullopt, true, 0.1, std::int64_t{1} << 40, none);
    EXPECT_EQ(r.size(), 1);
    EXPECT_EQ(r.columns(), 7);
    const pg::Row row = r[0];
    EXPECT_EQ(row.get<int>("n"), 42);
    EXPECT_EQ(row.get<std::string>(1), "it's; DROP TABLE x --");
    EXPECT_TRUE(row.is_null(2));
    EXPECT_EQ(row.get<std::optional<std::string>>("missing"), std::nullopt);
    EXPECT_EQ(row.get<std::optional<std::int64_t>>("n"), 42);
    EXPECT_TRUE(row.get<bool>("yes"));
    EXPECT_EQ(row.get<double>("x"), 0.1);
    EXPECT_EQ(row.get<std::int64_t>("big"), std::int64_t{1} << 40);
    EXPECT_FALSE(row["also_missing"].has_value());
    EXPECT_THROW(row.get<std::string>("missing"), pg::Error);  // NULL into a non-optional
    EXPECT_THROW(row.get<int>("t"), pg::Error);                // not an integer
    EXPECT_THROW(row.get<int>("nope"), pg::Error);             // no such column
    EXPECT_THROW(r[1], pg::Error);                             // no such row
    try {
      row.get<int>("t");
    } catch (const pg::Error& e) {
      EXPECT_NE(std::string(e.what()).find("column \"t\""), std::string::npos) << e.what();
    }

    EXPECT_EQ(co_await c->execute("CREATE TABLE t (id serial PRIMARY KEY, v text)"), 0);
    EXPECT_EQ(co_await c->execute("INSERT INTO t (v) VALUES ($1), ($2), (NULL)", "a", "b"), 3);
    EXPECT_EQ(co_await c->execute("UPDATE t SET v = $1 WHERE v IS NOT NULL", "z"), 2);
    auto rows = co_await c->query("SELECT id, v FROM t ORDER BY id");
    std::vector<std::optional<std::string>> values;
    for (const auto& each : rows) values.push_back(each.get<std::optional<std::string>>("v"));
    EXPECT_EQ(values, (std::vector<std::optional<std::string>>{"z", "z", std::nullopt}));
  });
}

TEST_F(PostgresTest, UnicodeRoundTrips) {
  run([&]() -> Task<> {
    auto c = co_await pg::connect(cluster_->uri());
    const std::string text = "h\xC3\xA9llo \xE2\x80\x94 \xE6\x97\xA5\xE6\x9C\xAC \xF0\x9F\x8E\x89";
    auto r = co_await c->query(
        "SELECT $1::text AS s, length($1::text) AS chars, octet_length($1::text) AS bytes, "
        "substr($1::text, 9, 2) AS japanese",
        text);
    EXPECT_EQ(r[0].get<std::string>("s"), text);
    EXPECT_EQ(r[0].get<int>("chars"), 12);  // code points, not bytes
    EXPECT_EQ(r[0].get<std::size_t>("bytes"), text.size());
    EXPECT_EQ(r[0].get<std::string>("japanese"), "\xE6\x97\xA5\xE6\x9C\xAC");
  });
}

TEST_F(PostgresTest, LargeResultOfAHundredThousandRows) {
  run([&]() -> Task<> {
    auto c = co_await pg::connect(cluster_->conninfo());
    const auto start = std::chrono::steady_clock::now();
    auto r = co_await c->query(
        "SELECT i, md5(i::text) AS h FROM generate_series(1, $1::int) AS i", 100000);
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    EXPECT_EQ(r.size(), 100000);
    if (r.size() != 100000) co_return;
    std::int64_t sum = 0;
    for (const auto& row : r) sum += row.get<std::int64_t>(0);
    EXPECT_EQ(sum, std::int64_t{100000} * 100001 / 2);
    EXPECT_EQ(r[99999].get<std::string>("h").size(), 32u);
    EXPECT_EQ(r.affected_rows(), 100000);
    std::printf("100,000 rows (int + 32-byte text) in %.3f s\n", seconds);
  });
}

// A SELECT whose rows pass max_result_bytes is refused while its rows arrive (the statement
// cancelled on the server), not after libpq has built all of it; the connection goes on.
TEST_F(PostgresTest, ResultPastMaxResultBytesIsRefusedWhileItArrives) {
  run([&]() -> Task<> {
    pg::ConnectOptions o;
    o.max_result_bytes = 1024 * 1024;
    auto c = co_await pg::connect(cluster_->conninfo(), o);
    reset_peak_rss();
    const long peak_before = peak_rss_kib();
    const double start = IOLoop::current().time();
    try {
      // 2 GB of rows if it ran to its end.
      co_await c->query("SELECT repeat('x', 10000) FROM generate_series(1, 200000)");
      ADD_FAILURE() << "no error";
    } catch (const pg::Error& e) {
      EXPECT_NE(std::string(e.what()).find("max_result_bytes"), std::string::npos) << e.what();
      EXPECT_EQ(e.sqlstate(), "");
    }
    EXPECT_LT(IOLoop::current().time() - start, 10.0);
    EXPECT_LT(peak_rss_kib() - peak_before, 64 * 1024) << "KiB of peak RSS growth";
    EXPECT_FALSE(c->closed());
    auto r = co_await c->query("SELECT 3 AS three");
    EXPECT_EQ(r[0].get<int>("three"), 3);
    // Under the bound (500 rows of 1,000 bytes and their 8-byte ends): every row is kept.
    auto under = co_await c->query("SELECT repeat('y', 1000) AS y FROM generate_series(1, 500)");
    EXPECT_EQ(under.size(), 500);
    EXPECT_EQ(under[499].get<std::string>("y"), std::string(1000, 'y'));
  });
}

// Rows are read one at a time: a result with no row still has its columns, and a command its
// tag and count.
TEST_F(PostgresTest, EmptyResultKeepsItsColumnsAndCommandsTheirCounts) {
  run([&]() -> Task<> {
    auto c = co_await pg::connect(cluster_->conninfo());
    auto r = co_await c->query("SELECT 1 AS a, 'x' AS b WHERE false");
    EXPECT_EQ(r.size(), 0);
    EXPECT_EQ(r.columns(), 2);
    EXPECT_EQ(r.column_name(1), "b");
    EXPECT_EQ(r.column_index("a"), 0);
    EXPECT_EQ(r.command_tag(), "SELECT 0");
    co_await c->execute("CREATE TABLE e (v text)");
    auto ins = co_await c->query("INSERT INTO e VALUES ('p'), (NULL) RETURNING v");
    EXPECT_EQ(ins.size(), 2);
    EXPECT_EQ(ins.command_tag(), "INSERT 0 2");
    EXPECT_EQ(ins.affected_rows(), 2);
    EXPECT_EQ(ins[0].get<std::string>(0), "p");
    EXPECT_TRUE(ins[1].is_null(0));
    auto empty = co_await c->query("");
    EXPECT_EQ(empty.size(), 0);
    EXPECT_EQ(empty.columns(), 0);
  });
}

TEST_F(PostgresTest, SqlErrorCarriesSqlstateAndTheConnectionGoesOn) {
  run([&]() -> Task<> {
    auto c = co_await pg::connect(cluster_->conninfo());
    try {
      co_await c->query("SELECT * FROM no_such_table");
      ADD_FAILURE() << "no error";
    } catch (const pg::Error& e) {
      EXPECT_EQ(e.sqlstate(), "42P01");
      EXPECT_EQ(e.message(), "relation \"no_such_table\" does not exist");
      EXPECT_NE(std::string(e.what()).find("ERROR 42P01"), std::string::npos) << e.what();
    }
    co_await c->execute("CREATE TABLE u (k text UNIQUE)");
    co_await c->execute("INSERT INTO u VALUES ($1)", "x");
    try {
      co_await c->execute("INSERT INTO u VALUES ($1)", "x");
      ADD_FAILURE() << "no error";
    } catch (const pg::Error& e) {
      EXPECT_EQ(e.sqlstate(), "23505");  // unique_violation
      EXPECT_NE(e.detail().find("already exists"), std::string::npos) << e.detail();
    }
    try {
      co_await c->query("SELECT $1::int", "not a number");
      ADD_FAILURE() << "no error";
    } catch (const pg::Error& e) {
      EXPECT_EQ(e.sqlstate(), "22P02");  // invalid_text_representation
    }
    auto r = co_await c->query("SELECT 1 AS one");
    EXPECT_EQ(r[0].get<int>("one"), 1);
  });
}

TEST_F(PostgresTest, TransactionCommitsAndADroppedOneRollsBack) {
  run([&]() -> Task<> {
    auto c = co_await pg::connect(cluster_->conninfo());
    co_await c->execute("CREATE TABLE t (v int)");
    {
      auto tx = co_await c->begin();
      EXPECT_TRUE(c->in_transaction());
      co_await c->execute("INSERT INTO t VALUES (1)");
      co_await tx.commit();
    }
    {
      auto tx = co_await c->begin();
      co_await c->execute("INSERT INTO t VALUES (2)");
    }  // dropped open: rolled back before the next statement
    auto r = co_await c->query("SELECT count(*) FROM t");
    EXPECT_EQ(r[0].get<int>(0), 1);
    EXPECT_FALSE(c->in_transaction());
  });
}

TEST_F(PostgresTest, PoolServesMoreConcurrentQueriesThanConnections) {
  run([&]() -> Task<> {
    pg::PoolOptions o;
    o.conninfo = cluster_->conninfo();
    o.max_size = 3;
    pg::Pool pool(o);
    std::size_t most_open = 0;
    std::vector<Task<int>> tasks;
    for (int i = 0; i < 20; ++i) {
      tasks.push_back([](pg::Pool& p, std::size_t& most, int n) -> Task<int> {
        auto r = co_await p.query("SELECT $1::int AS n, pg_sleep(0.05)", n);
        most = std::max(most, p.size());
        co_return r[0].get<int>("n");
      }(pool, most_open, i));
    }
    std::vector<int> got = co_await when_all(std::move(tasks));
    for (int i = 0; i < 20; ++i) EXPECT_EQ(got[static_cast<std::size_t>(i)], i);
    EXPECT_LE(most_open, 3u);
    EXPECT_EQ(pool.size(), 3u);
    EXPECT_EQ(pool.idle(), 3u);
    EXPECT_EQ(pool.waiting(), 0u);
  });
}

TEST_F(PostgresTest, PoolWaiterTimesOutAndWaitersAreBounded) {
  run([&]() -> Task<> {
    pg::PoolOptions o;
    o.conninfo = cluster_->conninfo();
    o.max_size = 1;
    o.max_waiters = 1;
    o.acquire_timeout = 200ms;
    pg::Pool pool(o);
    auto held = co_await pool.acquire();
    Future<void> waiter =
        spawn([](pg::Pool& p) -> Task<> { auto c = co_await p.acquire(); }(pool));
    EXPECT_EQ(pool.waiting(), 1u);
    try {
      co_await pool.acquire();  // a second waiter: over max_waiters
      ADD_FAILURE() << "no error";
    } catch (const pg::Error& e) {
      EXPECT_NE(std::string(e.what()).find("max_waiters"), std::string::npos) << e.what();
    }
    const double start = IOLoop::current().time();
    try {
      co_await waiter;
      ADD_FAILURE() << "no timeout";
    } catch (const TimeoutError&) {
    }
    EXPECT_GE(IOLoop::current().time() - start, 0.15);
    held.release();
    auto again = co_await pool.acquire();  // the connection went back to the pool
    EXPECT_EQ(pool.size(), 1u);
  });
}

TEST_F(PostgresTest, PoolRollsBackAConnectionReturnedMidTransaction) {
  run([&]() -> Task<> {
    pg::PoolOptions o;
    o.conninfo = cluster_->conninfo();
    o.max_size = 1;
    pg::Pool pool(o);
    co_await pool.execute("CREATE TABLE t (v int)");
    {
      auto c = co_await pool.acquire();
      co_await c->execute("BEGIN");
      co_await c->execute("INSERT INTO t VALUES (1)");
    }  // returned inside the transaction
    auto r = co_await pool.query("SELECT count(*) FROM t");
    EXPECT_EQ(r[0].get<int>(0), 0);
    EXPECT_EQ(pool.size(), 1u);  // the same connection, rolled back and reused
  });
}

TEST_F(PostgresTest, PoolRecoversFromAServerRestartMidUse) {
  run([&]() -> Task<> {
    pg::PoolOptions o;
    o.conninfo = cluster_->conninfo();
    o.max_size = 3;
    o.connect.connect_timeout = 2s;
    pg::Pool pool(o);
    co_await pool.query("SELECT 1");
    std::vector<Future<pg::Result>> running;
    for (int i = 0; i < 5; ++i) running.push_back(spawn(pool.query("SELECT pg_sleep(5)")));
    co_await sleep(300ms);
    cluster_->stop();  // fast shutdown: the server ends the sessions
    int lost = 0;
    for (auto& f : running) {
      try {
        co_await f;
      } catch (const pg::ConnectionError&) {
        ++lost;
      }
    }
    EXPECT_EQ(lost, 5);  // three in flight, two that waited and found no server
    cluster_->start();
    for (int i = 0; i < 6; ++i) {
      auto r = co_await pool.query("SELECT $1::int AS n", i);
      EXPECT_EQ(r[0].get<int>("n"), i);
    }
    EXPECT_LE(pool.size(), 3u);
  });
}

TEST_F(PostgresTest, PoolReplacesIdleConnectionsTheServerClosed) {
  run([&]() -> Task<> {
    pg::PoolOptions o;
    o.conninfo = cluster_->conninfo();
    o.max_size = 2;
    pg::Pool pool(o);
    auto r1 = co_await pool.query("SELECT pg_backend_pid()");
    cluster_->restart();  // the loop has not run since: the idle connection looks open
    auto r2 = co_await pool.query("SELECT pg_backend_pid()");
    EXPECT_NE(r1[0].get<int>(0), r2[0].get<int>(0));
  });
}

// A NUL byte cannot be in PostgreSQL text; libpq takes C strings, so one in a parameter, the
// SQL or a channel name would silently cut it there ("admin\0x" would match "admin").
// Each is a clear Error before anything is sent, and the connection goes on.
TEST_F(PostgresTest, NulBytesInParametersSqlOrChannelsAreRefusedNotTruncated) {
  run([&]() -> Task<> {
    auto c = co_await pg::connect(cluster_->conninfo());
    const std::string nul("admin\0junk", 10);
    try {
      co_await c->query("SELECT $1::text AS v", nul);
      ADD_FAILURE() << "a parameter with a NUL byte was sent";
    } catch (const pg::Error& e) {
      EXPECT_NE(std::string(e.what()).find("NUL"), std::string::npos) << e.what();
    }
    try {
      co_await c->query(std::string("SELECT 1\0; SELECT 2", 19));
      ADD_FAILURE() << "SQL with a NUL byte was sent";
    } catch (const pg::Error& e) {
      EXPECT_NE(std::string(e.what()).find("NUL"), std::string::npos) << e.what();
    }
    auto listener = co_await pg::Listener::connect(cluster_->conninfo());
    try {
      co_await listener.listen(std::string("news\0x", 6));
      ADD_FAILURE() << "a channel name with a NUL byte was listened to";
    } catch (const pg::Error& e) {
      EXPECT_NE(std::string(e.what()).find("NUL"), std::string::npos) << e.what();
    }
    auto r = co_await c->query("SELECT $1::text AS v", "still fine");
    EXPECT_EQ(r[0].get<std::string>("v"), "still fine");
  });
}

// Channel names and payloads a peer chooses: quotes, backslashes, newlines, non-ASCII, the
// longest payload the server takes; all arrive as sent.
TEST_F(PostgresTest, HostileChannelNamesAndPayloadsArriveVerbatim) {
  run([&]() -> Task<> {
    auto listener = co_await pg::Listener::connect(cluster_->conninfo());
    const std::vector<std::string> channels{"a\"b", "back\\slash", "new\nline", "caf\xc3\xa9",
                                            "x'); LISTEN y; --", std::string(63, 'z')};
    for (const auto& ch : channels) co_await listener.listen(ch);
    auto sender = co_await pg::connect(cluster_->conninfo());
    const std::string payload = "q\"uo'te\\ \n\t\xe2\x82\xac" + std::string(7900, 'p');
    for (const auto& ch : channels) {
      co_await sender->execute("SELECT pg_notify($1, $2)", ch, payload);
      pg::Notification n = co_await listener.next(5s);
      EXPECT_EQ(n.channel, ch);
      EXPECT_EQ(n.payload, payload);
    }
  });
}

// The pool goes while a statement runs on its only connection and another acquire waits:
// the waiter fails with a clear Error, the running statement still completes, and its
// connection is closed when it comes back (nothing left for the sanitizers to find).
TEST_F(PostgresTest, PoolDestroyedWithQueriesInFlight) {
  run([&]() -> Task<> {
    pg::PoolOptions o;
    o.conninfo = cluster_->conninfo();
    o.max_size = 1;
    auto pool = std::make_unique<pg::Pool>(o);
    Future<pg::Result> running = spawn(pool->query("SELECT pg_sleep(0.3), 1 AS one"));
    co_await sleep(100ms);
    Future<pg::Result> waiting = spawn(pool->query("SELECT 2"));
    co_await sleep(10ms);
    EXPECT_EQ(pool->waiting(), 1u);
    pool.reset();
    try {
      co_await waiting;
      ADD_FAILURE() << "the waiter got a connection from a destroyed pool";
    } catch (const pg::Error& e) {
      EXPECT_NE(std::string(e.what()).find("closed"), std::string::npos) << e.what();
    }
    pg::Result r = co_await running;
    EXPECT_EQ(r[0].get<int>("one"), 1);
  });
}

// Many acquires with a timeout about as long as a statement, so that waiters time out while
// connections come back and are handed on: each query either answers or raises
// TimeoutError, and afterwards no place is leaked (every connection the pool counts is idle,
// none is waiting, and a query still gets one).
TEST_F(PostgresTest, PoolWaitersTimingOutWhileConnectionsComeBackLeakNoPlace) {
  run([&]() -> Task<> {
    pg::PoolOptions o;
    o.conninfo = cluster_->conninfo();
    o.max_size = 2;
    o.acquire_timeout = 3ms;
    pg::Pool pool(o);
    co_await pool.query("SELECT 1");
    std::vector<Future<pg::Result>> queries;
    for (int i = 0; i < 200; ++i) queries.push_back(spawn(pool.query("SELECT pg_sleep(0.001)")));
    int answered = 0, timed_out = 0;
    for (auto& q : queries) {
      try {
        co_await q;
        ++answered;
      } catch (const TimeoutError&) {
        ++timed_out;
      }
    }
    EXPECT_EQ(answered + timed_out, 200);
    EXPECT_GT(answered, 0);
    EXPECT_GT(timed_out, 0);
    EXPECT_LE(pool.size(), 2u);
    EXPECT_EQ(pool.idle(), pool.size());
    EXPECT_EQ(pool.waiting(), 0u);
    auto r = co_await pool.query("SELECT 7 AS v");
    EXPECT_EQ(r[0].get<int>("v"), 7);
  });
}

// The server ends the backend in the middle of a statement (pg_terminate_backend, as an
// admin or a failover would): a ConnectionError, and the pool's next query gets a new one.
TEST_F(PostgresTest, BackendTerminatedMidQueryIsAConnectionErrorAndThePoolReplacesIt) {
  run([&]() -> Task<> {
    pg::PoolOptions o;
    o.conninfo = cluster_->conninfo();
    o.max_size = 1;
    pg::Pool pool(o);
    const int pid = (co_await pool.query("SELECT pg_backend_pid()"))[0].get<int>(0);
    Future<pg::Result> slow = spawn(pool.query("SELECT pg_sleep(10)"));
    co_await sleep(100ms);
    auto admin = co_await pg::connect(cluster_->conninfo());
    co_await admin->query("SELECT pg_terminate_backend($1)", pid);
    try {
      co_await slow;
      ADD_FAILURE() << "no error";
    } catch (const pg::ConnectionError&) {
    }
    const int again = (co_await pool.query("SELECT pg_backend_pid()"))[0].get<int>(0);
    EXPECT_NE(again, pid);
    EXPECT_EQ(pool.size(), 1u);
  });
}

TEST_F(PostgresTest, ListenNotifyDelivers) {
  run([&]() -> Task<> {
    auto listener = co_await pg::Listener::connect(cluster_->conninfo());
    co_await listener.listen("news");
    co_await listener.listen("Mixed Case; drop");
    auto sender = co_await pg::connect(cluster_->conninfo());
    co_await sender->execute("SELECT pg_notify($1, $2)", "news", "hello");
    co_await sender->execute("SELECT pg_notify($1, $2)", "Mixed Case; drop", "");
    pg::Notification n = co_await listener.next(5s);
    EXPECT_EQ(n.channel, "news");
    EXPECT_EQ(n.payload, "hello");
    EXPECT_EQ(n.backend_pid, sender->backend_pid());
    n = co_await listener.next(5s);
    EXPECT_EQ(n.channel, "Mixed Case; drop");
    EXPECT_EQ(n.payload, "");
    EXPECT_THROW(co_await listener.next(100ms), TimeoutError);
  });
}

TEST_F(PostgresTest, NotificationsArrivingDuringAQueryAreNotLost) {
  run([&]() -> Task<> {
    auto listener = co_await pg::Listener::connect(cluster_->conninfo());
    co_await listener.listen("ch");
    auto sender = co_await pg::connect(cluster_->conninfo());
    // The listener's connection is busy for 0.5 s while three notifications are sent.
    Future<pg::Result> busy = spawn(listener.connection().query("SELECT pg_sleep(0.5)"));
    co_await sleep(100ms);
    for (int i = 0; i < 3; ++i) {
      co_await sender->execute("SELECT pg_notify('ch', $1)", std::to_string(i));
    }
    co_await busy;
    for (int i = 0; i < 3; ++i) {
      pg::Notification n = co_await listener.next(5s);
      EXPECT_EQ(n.payload, std::to_string(i));
    }
  });
}

TEST_F(PostgresTest, NotificationsBeyondTheBoundAreDroppedAndCounted) {
  run([&]() -> Task<> {
    pg::ConnectOptions o;
    o.max_pending_notifications = 5;
    auto listener = co_await pg::Listener::connect(cluster_->conninfo(), o);
    co_await listener.listen("ch");
    auto sender = co_await pg::connect(cluster_->conninfo());
    co_await sender->execute("SELECT pg_notify('ch', i::text) FROM generate_series(1, 8) AS i");
    co_await listener.connection().query("SELECT 1");  // a round trip: all eight have arrived
    EXPECT_EQ(listener.connection().pending_notifications(), 5u);
    EXPECT_EQ(listener.connection().notifications_dropped(), 3u);
    for (int i = 1; i <= 5; ++i) {
      pg::Notification n = co_await listener.next(1s);
      EXPECT_EQ(n.payload, std::to_string(i));  // the oldest kept, the newest dropped
    }
  });
}

TEST_F(PostgresTest, StatementsOnOneConnectionQueueInOrder) {
  run([&]() -> Task<> {
    auto c = co_await pg::connect(cluster_->conninfo());
    co_await c->execute("CREATE TABLE log (n int, at timestamptz DEFAULT clock_timestamp())");
    std::vector<Task<std::int64_t>> inserts;
    for (int i = 0; i < 50; ++i) inserts.push_back(c->execute("INSERT INTO log (n) VALUES ($1)", i));
    auto counts = co_await when_all(std::move(inserts));
    for (auto n : counts) EXPECT_EQ(n, 1);
    auto r = co_await c->query("SELECT n FROM log ORDER BY at, n");
    EXPECT_EQ(r.size(), 50);
    for (int i = 0; i < r.size(); ++i) EXPECT_EQ(r[i].get<int>(0), i);
  });
}

TEST_F(PostgresTest, ListenerReconnectsAfterAServerRestart) {
  run([&]() -> Task<> {
    auto listener = co_await pg::Listener::connect(cluster_->conninfo());
    co_await listener.listen("a");
    co_await listener.listen("b");
    cluster_->restart();  // the listener's connection is gone
    Future<pg::Notification> got = spawn(listener.next(20s));
    // Sent until the listener is back and has re-LISTENed (what is sent before is lost).
    pg::PoolOptions o;
    o.conninfo = cluster_->conninfo();
    pg::Pool sender(o);
    while (!got.done()) {
      co_await sender.execute("SELECT pg_notify('b', 'after restart')");
      co_await sleep(50ms);
    }
    pg::Notification n = co_await got;
    EXPECT_EQ(n.channel, "b");
    EXPECT_EQ(n.payload, "after restart");
    EXPECT_EQ(listener.reconnects(), 1u);

    // Without reconnecting, the loss is an error.
    listener.set_reconnect(false);
    cluster_->restart();
    EXPECT_THROW(co_await listener.next(5s), pg::ConnectionError);
  });
}

TEST_F(PostgresTest, QueryTimeoutCancelsTheStatement) {
  run([&]() -> Task<> {
    pg::ConnectOptions o;
    o.query_timeout = 200ms;
    auto c = co_await pg::connect(cluster_->conninfo(), o);
    const double start = IOLoop::current().time();
    try {
      co_await c->query("SELECT pg_sleep(30)");
      ADD_FAILURE() << "no timeout";
    } catch (const TimeoutError& e) {
      EXPECT_NE(std::string(e.what()).find("cancelled"), std::string::npos) << e.what();
    }
    EXPECT_LT(IOLoop::current().time() - start, 5.0);
    // Cancelled on the server: the connection is still good.
    EXPECT_FALSE(c->closed());
    auto r = co_await c->query("SELECT 2");
    EXPECT_EQ(r[0].get<int>(0), 2);
    // A timeout for one statement: query_params.
    EXPECT_THROW(co_await c->query_params("SELECT pg_sleep(30)", pg::Params(), Duration(0.1)),
                 TimeoutError);
  });
}

// A statement that ends by itself right after its timeout: the cancel sent for it must not
// land on the next statement (libpq's race; the next one waits for PQcancel to return).
TEST_F(PostgresTest, AStaleCancelNeverHitsTheNextStatement) {
  run([&]() -> Task<> {
    auto c = co_await pg::connect(cluster_->conninfo());
    int timed_out = 0;
    for (int i = 0; i < 20; ++i) {
      try {
        co_await c->query_params("SELECT pg_sleep(0.05)", pg::Params(), Duration(0.045));
      } catch (const TimeoutError&) {
        ++timed_out;
      }
      auto r = co_await c->query("SELECT pg_sleep(0.1), $1::int AS i", i);  // never cancelled
      EXPECT_EQ(r[0].get<int>("i"), i);
    }
    std::printf("%d of 20 short statements were cancelled\n", timed_out);
  });
}

TEST_F(PostgresTest, LoopStaysResponsiveDuringALongQuery) {
  run([&]() -> Task<> {
    auto c = co_await pg::connect(cluster_->conninfo());
    int ticks = 0;
    double worst_gap = 0, last = IOLoop::current().time();
    PeriodicCallback tick(
        [&] {
          const double now = IOLoop::current().time();
          worst_gap = std::max(worst_gap, now - last);
          last = now;
          ++ticks;
        },
        10ms);
    tick.start();
    co_await c->query("SELECT pg_sleep(1.0)");
    tick.stop();
    // 100 ticks on an idle machine. A loop blocked by the query gets none during it and a gap
    // of at least 1 s. A loaded CI machine (tests beside this one, a build at nice 19) delays
    // the 10 ms timer, skips ticks and leaves gaps: with a 0.5 s query it gave 19 ticks of 50
    // in one run and a 0.36 s gap in another, so the query is 1 s and the bounds keep a wide
    // margin on both sides.
    EXPECT_GE(ticks, 20);
    EXPECT_LT(worst_gap, 0.6);
  });
}

// The blog demo's end-to-end suite (demos/blog/test_blog.py) with --db=postgresql://...:
// every case, plus two blog processes sharing the database.
TEST_F(PostgresTest, BlogDemoSuiteAgainstPostgres) {
  const std::string blog = std::string(TORNADO_BINARY_DIR) + "/demos/blog/blog";
  if (::access(blog.c_str(), X_OK) != 0) GTEST_SKIP() << "the blog demo is not built: " << blog;
  run([&]() -> Task<> {
    auto c = co_await pg::connect(cluster_->conninfo());
    co_await c->execute("CREATE DATABASE blog");
    co_await c->execute("CREATE DATABASE blog_other");
  });
  const std::string cmd = "BLOG_BINARY='" + blog + "' BLOG_DB='" + cluster_->uri("blog") +
                          "' BLOG_DB_OTHER='" + cluster_->uri("blog_other") + "' /usr/bin/python3 '" + TORNADO_SOURCE_DIR +
                          "/demos/blog/test_blog.py' -v 2>&1";
  FILE* p = ::popen(cmd.c_str(), "r");
  ASSERT_NE(p, nullptr);
  std::string out;
  char buf[4096];
  while (std::size_t n = std::fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  const int status = ::pclose(p);
  EXPECT_EQ(status, 0) << out;
  EXPECT_NE(out.find("Ran 13 tests"), std::string::npos) << out;
  EXPECT_EQ(out.find("skipped"), std::string::npos) << out;  // test_13 ran: two processes
}

}  // namespace postgres_test
