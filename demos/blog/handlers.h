// The blog's request handlers (Tornado's demos/blog/blog.py, same URLs and form fields).
#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include "database.h"
#include "tornado/web.h"

namespace blog {

// What every handler shares: the database (SQLite or PostgreSQL) and the demo's settings.
struct Blog {
  std::unique_ptr<Database> db;
  std::string title = "Tornado Blog";
  std::size_t max_title_bytes = 512;
  std::size_t max_markdown_bytes = 1024 * 1024;
};

// Reads the signed `blogdemo_user` cookie and loads that author in prepare() (the store is
// asynchronous, so current_user cannot be computed lazily), as Tornado's demo does.
class BaseHandler : public tornado::web::RequestHandler {
 public:
  void initialize(const std::shared_ptr<Blog>& blog) { blog_ = blog; }
  tornado::Task<> prepare() override;
  nlohmann::json get_template_namespace() override;

 protected:
  Database& db() { return *blog_->db; }
  Blog& blog() { return *blog_; }
  // Redirects to the `next` argument (default "/"); only a local path is accepted (anything
  // else would be an open redirect): 400.
  void redirect_to_next();
  void set_user_cookie(std::int64_t author_id);

  std::shared_ptr<Blog> blog_;
};

struct HomeHandler : BaseHandler {
  tornado::Task<> get() override;
};
struct EntryHandler : BaseHandler {
  tornado::Task<> get() override;
};
struct ArchiveHandler : BaseHandler {
  tornado::Task<> get() override;
};
struct FeedHandler : BaseHandler {
  tornado::Task<> get() override;
};
struct ComposeHandler : BaseHandler {
  tornado::Task<> get() override;
  tornado::Task<> post() override;
};
struct AuthCreateHandler : BaseHandler {
  tornado::Task<> get() override;
  tornado::Task<> post() override;
};
struct AuthLoginHandler : BaseHandler {
  tornado::Task<> get() override;
  tornado::Task<> post() override;
};
struct AuthLogoutHandler : BaseHandler {
  tornado::Task<> get() override;
};

// {% module Entry(entry) %}: one entry as modules/entry.html renders it.
struct EntryModule : tornado::web::UIModule {
  using UIModule::UIModule;
  std::string render(const std::vector<nlohmann::json>& args,
                     const nlohmann::json& kwargs) override;
};

}  // namespace blog
