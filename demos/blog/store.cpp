// The SQLite store: prepared statements with bound parameters only (no SQL built from input).
#include "store.h"

#include <utility>

namespace blog {

namespace {

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS authors (
    id INTEGER PRIMARY KEY,
    email TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    hashed_password TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS entries (
    id INTEGER PRIMARY KEY,
    author_id INTEGER NOT NULL REFERENCES authors(id),
    slug TEXT NOT NULL UNIQUE,
    title TEXT NOT NULL,
    markdown TEXT NOT NULL,
    html TEXT NOT NULL,
    published TEXT NOT NULL,
    updated TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS entries_published ON entries (published);
)sql";

constexpr const char* kNow = "strftime('%Y-%m-%dT%H:%M:%SZ', 'now')";

constexpr const char* kEntryColumns =
    "SELECT e.id, e.author_id, a.name, e.slug, e.title, e.markdown, e.html, e.published, "
    "e.updated FROM entries e JOIN authors a ON a.id = e.author_id ";

}  // namespace

nlohmann::json Author::to_json() const { return {{"id", id}, {"email", email}, {"name", name}}; }

nlohmann::json Entry::to_json() const {
  return {{"id", id},     {"author_id", author_id}, {"author_name", author_name},
          {"slug", slug}, {"title", title},         {"markdown", markdown},
          {"html", html}, {"published", published}, {"updated", updated}};
}

// One prepared statement; finalized on scope exit.
class Store::Statement {
 public:
  Statement(sqlite3* db, const std::string& sql) : db_(db) {
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt_, nullptr) != SQLITE_OK) fail("prepare");
  }
  ~Statement() { sqlite3_finalize(stmt_); }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  Statement& bind(int index, const std::string& text) {
    if (sqlite3_bind_text(stmt_, index, text.data(), static_cast<int>(text.size()),
                          SQLITE_TRANSIENT) != SQLITE_OK) {
      fail("bind");
    }
    return *this;
  }
  Statement& bind(int index, std::int64_t value) {
    if (sqlite3_bind_int64(stmt_, index, value) != SQLITE_OK) fail("bind");
    return *this;
  }
  // True while there is a row.
  bool step() {
    int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    fail("step");
  }
  // step() for a statement without rows: SQLITE_OK, or SQLITE_CONSTRAINT_UNIQUE when a
  // UNIQUE column refused the row; anything else throws.
  int run() {
    int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_DONE || rc == SQLITE_ROW) return SQLITE_OK;
    if (sqlite3_extended_errcode(db_) == SQLITE_CONSTRAINT_UNIQUE) return SQLITE_CONSTRAINT_UNIQUE;
    fail("step");
  }
  std::int64_t integer(int column) const { return sqlite3_column_int64(stmt_, column); }
  std::string text(int column) const {
    auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, column));
    return p ? std::string(p, static_cast<std::size_t>(sqlite3_column_bytes(stmt_, column)))
             : std::string();
  }

 private:
  [[noreturn]] void fail(const char* what) {
    throw StoreError(std::string("sqlite ") + what + ": " + sqlite3_errmsg(db_));
  }
  sqlite3* db_;
  sqlite3_stmt* stmt_ = nullptr;
};

Store::Store(const std::string& path) {
  int rc = sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr);
  if (rc != SQLITE_OK) {
    std::string message = db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
    sqlite3_close(db_);
    db_ = nullptr;
    throw StoreError("cannot open database " + path + ": " + message);
  }
  sqlite3_busy_timeout(db_, 5000);
  exec("PRAGMA foreign_keys = ON");
  exec("PRAGMA journal_mode = WAL");
  exec(kSchema);
}

Store::~Store() { sqlite3_close(db_); }

void Store::exec(const char* sql) {
  char* error = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &error) != SQLITE_OK) {
    std::string message = error ? error : "unknown error";
    sqlite3_free(error);
    throw StoreError("sqlite: " + message);
  }
}

bool Store::any_author() {
  Statement s(db_, "SELECT 1 FROM authors LIMIT 1");
  return s.step();
}

namespace {
Author read_author(auto& s) { return Author{s.integer(0), s.text(1), s.text(2), s.text(3)}; }
}  // namespace

std::optional<Author> Store::author_by_id(std::int64_t id) {
  Statement s(db_, "SELECT id, email, name, hashed_password FROM authors WHERE id = ?");
  s.bind(1, id);
  if (!s.step()) return std::nullopt;
  return read_author(s);
}

std::optional<Author> Store::author_by_email(const std::string& email) {
  Statement s(db_, "SELECT id, email, name, hashed_password FROM authors WHERE email = ?");
  s.bind(1, email);
  if (!s.step()) return std::nullopt;
  return read_author(s);
}

std::optional<std::int64_t> Store::create_author(const std::string& email, const std::string& name,
                                                 const std::string& hashed_password) {
  Statement s(db_, "INSERT INTO authors (email, name, hashed_password) VALUES (?, ?, ?)");
  s.bind(1, email).bind(2, name).bind(3, hashed_password);
  if (s.run() == SQLITE_CONSTRAINT_UNIQUE) return std::nullopt;  // the UNIQUE email
  return sqlite3_last_insert_rowid(db_);
}

std::vector<Entry> Store::query_entries(Statement& s) {
  std::vector<Entry> out;
  while (s.step()) {
    out.push_back(Entry{s.integer(0), s.integer(1), s.text(2), s.text(3), s.text(4), s.text(5),
                        s.text(6), s.text(7), s.text(8)});
  }
  return out;
}

std::vector<Entry> Store::entries(int limit) {
  Statement s(db_, std::string(kEntryColumns) + "ORDER BY e.published DESC, e.id DESC LIMIT ?");
  s.bind(1, static_cast<std::int64_t>(limit));
  return query_entries(s);
}

std::optional<Entry> Store::entry_by_slug(const std::string& slug) {
  Statement s(db_, std::string(kEntryColumns) + "WHERE e.slug = ?");
  s.bind(1, slug);
  auto found = query_entries(s);
  if (found.empty()) return std::nullopt;
  return std::move(found.front());
}

std::optional<Entry> Store::entry_by_id(std::int64_t id) {
  Statement s(db_, std::string(kEntryColumns) + "WHERE e.id = ?");
  s.bind(1, id);
  auto found = query_entries(s);
  if (found.empty()) return std::nullopt;
  return std::move(found.front());
}

std::string Store::create_entry(std::int64_t author_id, const std::string& title,
                                const std::string& slug, const std::string& markdown,
                                const std::string& html) {
  const std::string sql = std::string(
                              "INSERT INTO entries (author_id, title, slug, markdown, "
                              "html, published, updated) VALUES (?, ?, ?, ?, ?, ") +
                          kNow + ", " + kNow + ")";
  // The UNIQUE constraint decides (no check-then-insert race); bounded tries.
  for (int n = 1; n <= 1000; ++n) {
    std::string candidate = n == 1 ? slug : slug + "-" + std::to_string(n);
    Statement s(db_, sql);
    s.bind(1, author_id).bind(2, title).bind(3, candidate).bind(4, markdown).bind(5, html);
    if (s.run() == SQLITE_OK) return candidate;
  }
  throw StoreError("no free slug for " + slug);
}

void Store::update_entry(std::int64_t id, const std::string& title, const std::string& markdown,
                         const std::string& html) {
  Statement s(db_, std::string("UPDATE entries SET title = ?, markdown = ?, html = ?, updated = ") +
                       kNow + " WHERE id = ?");
  s.bind(1, title).bind(2, markdown).bind(3, html).bind(4, id);
  s.run();
}

}  // namespace blog
