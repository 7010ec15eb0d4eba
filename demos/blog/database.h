// The blog's database as the handlers see it: asynchronous calls returning Futures, over one of
// two stores. SQLite (the default, a file) runs on a database thread of its own (DbThread);
// PostgreSQL (--db=postgresql://...) runs on the loop through a tornado::postgres::Pool, so
// several blog processes can share one database. Same schema and behaviour in both.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "store.h"
#include "tornado/task.h"

namespace blog {

class Database {
 public:
  virtual ~Database() = default;
  // Creates the schema when it is missing (run once, before serving).
  virtual tornado::Task<> open() = 0;

  virtual tornado::Future<bool> any_author() = 0;
  virtual tornado::Future<std::optional<Author>> author_by_id(std::int64_t id) = 0;
  virtual tornado::Future<std::optional<Author>> author_by_email(std::string email) = 0;
  // The new author's id, or nullopt when the email is taken.
  virtual tornado::Future<std::optional<std::int64_t>> create_author(
      std::string email, std::string name, std::string hashed_password) = 0;
  // Newest first; limit < 0: all.
  virtual tornado::Future<std::vector<Entry>> entries(int limit) = 0;
  virtual tornado::Future<std::optional<Entry>> entry_by_slug(std::string slug) = 0;
  virtual tornado::Future<std::optional<Entry>> entry_by_id(std::int64_t id) = 0;
  // Inserts under `slug`, or `slug-2`, `slug-3`, ... when taken; the slug used.
  virtual tornado::Future<std::string> create_entry(std::int64_t author_id, std::string title,
                                                    std::string slug, std::string markdown,
                                                    std::string html) = 0;
  virtual tornado::Future<void> update_entry(std::int64_t id, std::string title,
                                             std::string markdown, std::string html) = 0;
};

// True for a PostgreSQL connection URI (postgresql://... or postgres://...).
bool is_postgres_url(const std::string& db);
// SQLite on the file `db`, or PostgreSQL for a postgresql:// URI (throws std::runtime_error
// when the blog was built without libpq).
std::unique_ptr<Database> make_database(const std::string& db);

// Declared here, defined in database_postgres.cpp (built when libpq is found).
std::unique_ptr<Database> make_postgres_database(const std::string& url);

}  // namespace blog
