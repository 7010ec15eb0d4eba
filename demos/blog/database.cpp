// The SQLite side of blog::Database: each call runs on the database thread.
#include "database.h"

#include <stdexcept>

#include "db_thread.h"

namespace blog {

namespace {

class SqliteDatabase : public Database {
 public:
  explicit SqliteDatabase(std::string path) : path_(std::move(path)) {}

  tornado::Task<> open() override {
    thread_ = std::make_unique<DbThread>(path_);  // opens the file, creates the schema
    co_return;
  }
  tornado::Future<bool> any_author() override {
    return thread_->run([](Store& s) { return s.any_author(); });
  }
  tornado::Future<std::optional<Author>> author_by_id(std::int64_t id) override {
    return thread_->run([id](Store& s) { return s.author_by_id(id); });
  }
  tornado::Future<std::optional<Author>> author_by_email(std::string email) override {
    return thread_->run([email](Store& s) { return s.author_by_email(email); });
  }
  tornado::Future<std::optional<std::int64_t>> create_author(std::string email, std::string name,
                                                             std::string hashed) override {
    return thread_->run(
        [email, name, hashed](Store& s) { return s.create_author(email, name, hashed); });
  }
  tornado::Future<std::vector<Entry>> entries(int limit) override {
    return thread_->run([limit](Store& s) { return s.entries(limit); });
  }
  tornado::Future<std::optional<Entry>> entry_by_slug(std::string slug) override {
    return thread_->run([slug](Store& s) { return s.entry_by_slug(slug); });
  }
  tornado::Future<std::optional<Entry>> entry_by_id(std::int64_t id) override {
    return thread_->run([id](Store& s) { return s.entry_by_id(id); });
  }
  tornado::Future<std::string> create_entry(std::int64_t author_id, std::string title,
                                            std::string slug, std::string markdown,
                                            std::string html) override {
    return thread_->run([author_id, title, slug, markdown, html](Store& s) {
      return s.create_entry(author_id, title, slug, markdown, html);
    });
  }
  tornado::Future<void> update_entry(std::int64_t id, std::string title, std::string markdown,
                                     std::string html) override {
    return thread_->run(
        [id, title, markdown, html](Store& s) { s.update_entry(id, title, markdown, html); });
  }

 private:
  std::string path_;
  std::unique_ptr<DbThread> thread_;
};

}  // namespace

bool is_postgres_url(const std::string& db) {
  return db.rfind("postgresql://", 0) == 0 || db.rfind("postgres://", 0) == 0;
}

std::unique_ptr<Database> make_database(const std::string& db) {
  if (is_postgres_url(db)) return make_postgres_database(db);
  return std::make_unique<SqliteDatabase>(db);
}

#ifndef BLOG_HAVE_POSTGRES
std::unique_ptr<Database> make_postgres_database(const std::string&) {
  throw std::runtime_error(
      "this blog was built without PostgreSQL support (install libpq-dev and rebuild)");
}
#endif

}  // namespace blog
