// The PostgreSQL side of blog::Database: the SQLite schema and queries in PostgreSQL's SQL,
// on a tornado::postgres::Pool driven by the loop. Timestamps are the same UTC text.
#include <utility>

#include "database.h"
#include "tornado/postgres.h"

namespace blog {

namespace {

namespace pg = tornado::postgres;
using tornado::Task;
using namespace std::chrono_literals;

constexpr const char* kSchema[] = {
    "CREATE TABLE IF NOT EXISTS authors ("
    " id BIGSERIAL PRIMARY KEY,"
    " email TEXT NOT NULL UNIQUE,"
    " name TEXT NOT NULL,"
    " hashed_password TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS entries ("
    " id BIGSERIAL PRIMARY KEY,"
    " author_id BIGINT NOT NULL REFERENCES authors(id),"
    " slug TEXT NOT NULL UNIQUE,"
    " title TEXT NOT NULL,"
    " markdown TEXT NOT NULL,"
    " html TEXT NOT NULL,"
    " published TEXT NOT NULL,"
    " updated TEXT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS entries_published ON entries (published)",
};

// Any fixed number: blog processes starting together create the schema one at a time (two
// CREATE TABLE IF NOT EXISTS at once can both try to create the table).
constexpr std::int64_t kSchemaLock = 0x626c6f67;  // "blog"

#define BLOG_NOW "to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"

constexpr const char* kEntryColumns =
    "SELECT e.id, e.author_id, a.name, e.slug, e.title, e.markdown, e.html, e.published, "
    "e.updated FROM entries e JOIN authors a ON a.id = e.author_id ";

constexpr const char* kUniqueViolation = "23505";

Author read_author(const pg::Row& r) {
  return Author{r.get<std::int64_t>(0), r.get<std::string>(1), r.get<std::string>(2),
                r.get<std::string>(3)};
}

std::vector<Entry> read_entries(const pg::Result& result) {
  std::vector<Entry> out;
  out.reserve(static_cast<std::size_t>(result.size()));
  for (const auto& r : result) {
    out.push_back(Entry{r.get<std::int64_t>(0), r.get<std::int64_t>(1), r.get<std::string>(2),
                        r.get<std::string>(3), r.get<std::string>(4), r.get<std::string>(5),
                        r.get<std::string>(6), r.get<std::string>(7), r.get<std::string>(8)});
  }
  return out;
}

std::optional<Entry> first_entry(const pg::Result& result) {
  auto entries = read_entries(result);
  if (entries.empty()) return std::nullopt;
  return std::move(entries.front());
}

class PostgresDatabase : public Database {
 public:
  explicit PostgresDatabase(const std::string& url) : pool_(options(url)) {}

  Task<> open() override {
    auto c = co_await pool_.acquire();
    auto tx = co_await c->begin();
    co_await c->execute("SELECT pg_advisory_xact_lock($1)", kSchemaLock);
    for (const char* sql : kSchema) co_await c->execute(sql);
    co_await tx.commit();
  }

  tornado::Future<bool> any_author() override { return tornado::spawn(any_author_task()); }
  tornado::Future<std::optional<Author>> author_by_id(std::int64_t id) override {
    return tornado::spawn(author_where("id = $1::bigint", std::to_string(id)));
  }
  tornado::Future<std::optional<Author>> author_by_email(std::string email) override {
    return tornado::spawn(author_where("email = $1", std::move(email)));
  }
  tornado::Future<std::optional<std::int64_t>> create_author(std::string email, std::string name,
                                                             std::string hashed) override {
    return tornado::spawn(create_author_task(std::move(email), std::move(name), std::move(hashed)));
  }
  tornado::Future<std::vector<Entry>> entries(int limit) override {
    return tornado::spawn(entries_task(limit));
  }
  tornado::Future<std::optional<Entry>> entry_by_slug(std::string slug) override {
    return tornado::spawn(entry_where("e.slug = $1", std::move(slug)));
  }
  tornado::Future<std::optional<Entry>> entry_by_id(std::int64_t id) override {
    return tornado::spawn(entry_where("e.id = $1::bigint", std::to_string(id)));
  }
  tornado::Future<std::string> create_entry(std::int64_t author_id, std::string title,
                                            std::string slug, std::string markdown,
                                            std::string html) override {
    return tornado::spawn(create_entry_task(author_id, std::move(title), std::move(slug),
                                            std::move(markdown), std::move(html)));
  }
  tornado::Future<void> update_entry(std::int64_t id, std::string title, std::string markdown,
                                     std::string html) override {
    return tornado::spawn(
        update_entry_task(id, std::move(title), std::move(markdown), std::move(html)));
  }

 private:
  static pg::PoolOptions options(const std::string& url) {
    pg::PoolOptions o;
    o.conninfo = url;
    o.max_size = 10;
    o.acquire_timeout = 10s;
    o.connect.query_timeout = 30s;
    return o;
  }

  Task<bool> any_author_task() {
    auto r = co_await pool_.query("SELECT 1 FROM authors LIMIT 1");
    co_return !r.empty();
  }
  Task<std::optional<Author>> author_where(std::string where, std::string value) {
    auto r = co_await pool_.query(
        "SELECT id, email, name, hashed_password FROM authors WHERE " + where, value);
    if (r.empty()) co_return std::nullopt;
    co_return read_author(r[0]);
  }
  Task<std::optional<std::int64_t>> create_author_task(std::string email, std::string name,
                                                       std::string hashed) {
    try {
      auto r = co_await pool_.query(
          "INSERT INTO authors (email, name, hashed_password) VALUES ($1, $2, $3) RETURNING id",
          email, name, hashed);
      co_return r[0].get<std::int64_t>(0);
    } catch (const pg::Error& e) {
      if (e.sqlstate() != kUniqueViolation) throw;
    }
    co_return std::nullopt;  // the UNIQUE email
  }
  Task<std::vector<Entry>> entries_task(int limit) {
    // LIMIT NULL is no limit, as SQLite's LIMIT -1.
    std::optional<std::int64_t> bound;
    if (limit >= 0) bound = limit;
    auto r = co_await pool_.query(
        std::string(kEntryColumns) + "ORDER BY e.published DESC, e.id DESC LIMIT $1::bigint",
        bound);
    co_return read_entries(r);
  }
  Task<std::optional<Entry>> entry_where(std::string where, std::string value) {
    auto r = co_await pool_.query(std::string(kEntryColumns) + "WHERE " + where, value);
    co_return first_entry(r);
  }
  Task<std::string> create_entry_task(std::int64_t author_id, std::string title,
                                      std::string slug, std::string markdown, std::string html) {
    // The UNIQUE constraint decides (no check-then-insert race, across processes too).
    for (int n = 1; n <= 1000; ++n) {
      std::string candidate = n == 1 ? slug : slug + "-" + std::to_string(n);
      bool taken = false;
      try {
        co_await pool_.execute(
            "INSERT INTO entries (author_id, title, slug, markdown, html, published, updated) "
            "VALUES ($1, $2, $3, $4, $5, " BLOG_NOW ", " BLOG_NOW ")",
            author_id, title, candidate, markdown, html);
      } catch (const pg::Error& e) {
        if (e.sqlstate() != kUniqueViolation) throw;
        taken = true;
      }
      if (!taken) co_return candidate;
    }
    throw StoreError("no free slug for " + slug);
  }
  Task<> update_entry_task(std::int64_t id, std::string title, std::string markdown,
                           std::string html) {
    co_await pool_.execute(
        "UPDATE entries SET title = $1, markdown = $2, html = $3, updated = " BLOG_NOW
        " WHERE id = $4",
        title, markdown, html, id);
  }

  pg::Pool pool_;
};

}  // namespace

std::unique_ptr<Database> make_postgres_database(const std::string& url) {
  return std::make_unique<PostgresDatabase>(url);
}

}  // namespace blog
