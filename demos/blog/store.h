// The blog's SQLite store: authors and entries. Every call blocks (disk I/O), so a Store is
// used only on the blog's database thread (DbThread, db_thread.h), never on the loop thread;
// one connection, one thread at a time.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace blog {

struct Author {
  std::int64_t id = 0;
  std::string email;
  std::string name;
  std::string hashed_password;
  // What templates and current_user see (no password hash).
  nlohmann::json to_json() const;
};

struct Entry {
  std::int64_t id = 0;
  std::int64_t author_id = 0;
  std::string author_name;
  std::string slug;
  std::string title;
  std::string markdown;
  std::string html;
  std::string published;  // UTC, "2026-11-30T05:43:42Z"
  std::string updated;
  nlohmann::json to_json() const;
};

// A failed SQLite call, with sqlite3_errmsg's text.
class StoreError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class Store {
 public:
  // Opens (creating) the database file and creates the schema when it is missing.
  explicit Store(const std::string& path);
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  bool any_author();
  std::optional<Author> author_by_id(std::int64_t id);
  std::optional<Author> author_by_email(const std::string& email);
  // The new author's id, or nullopt when the email is taken.
  std::optional<std::int64_t> create_author(const std::string& email, const std::string& name,
                                            const std::string& hashed_password);

  // Newest first; limit < 0: all.
  std::vector<Entry> entries(int limit);
  std::optional<Entry> entry_by_slug(const std::string& slug);
  std::optional<Entry> entry_by_id(std::int64_t id);
  // Inserts an entry under `slug`, or `slug-2`, `slug-3`, ... when taken; returns the slug used.
  std::string create_entry(std::int64_t author_id, const std::string& title,
                           const std::string& slug, const std::string& markdown,
                           const std::string& html);
  void update_entry(std::int64_t id, const std::string& title, const std::string& markdown,
                    const std::string& html);

 private:
  class Statement;
  void exec(const char* sql);
  std::vector<Entry> query_entries(Statement& stmt);

  sqlite3* db_ = nullptr;
};

}  // namespace blog
