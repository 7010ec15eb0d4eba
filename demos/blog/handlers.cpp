#include "handlers.h"

#include <charconv>
#include <ctime>

#include "markdown.h"
#include "password.h"

namespace blog {

using nlohmann::json;
using tornado::Task;
using tornado::web::HTTPError;

namespace {

constexpr const char* kUserCookie = "blogdemo_user";

std::optional<std::int64_t> parse_id(std::string_view text) {
  std::int64_t id = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), id);
  if (ec != std::errc() || end != text.data() + text.size() || id <= 0) return std::nullopt;
  return id;
}

json entries_json(const std::vector<Entry>& entries) {
  json list = json::array();
  for (const auto& e : entries) list.push_back(e.to_json());
  return list;
}

}  // namespace

// ---- BaseHandler ----

Task<> BaseHandler::prepare() {
  auto cookie = get_signed_cookie(kUserCookie);
  if (!cookie) co_return;
  auto id = parse_id(*cookie);
  if (!id) co_return;
  auto lookup = db().author_by_id(*id);
  std::optional<Author> author = co_await lookup;
  if (author) set_current_user(author->to_json());
}

json BaseHandler::get_template_namespace() {
  json ns = RequestHandler::get_template_namespace();
  ns["blog_title"] = blog_->title;
  return ns;
}

void BaseHandler::redirect_to_next() {
  std::string next = get_argument("next", "/");
  // "//host" and "/\host" are taken by browsers as another host.
  if (next.empty() || next[0] != '/' || next.starts_with("//") || next.starts_with("/\\")) {
    throw HTTPError(400, "next must be a local path");
  }
  redirect(next);
}

void BaseHandler::set_user_cookie(std::int64_t author_id) {
  tornado::web::CookieOptions options;
  options.httponly = true;
  options.samesite = "Lax";
  set_signed_cookie(kUserCookie, std::to_string(author_id), 30, options);
}

// ---- pages ----

Task<> HomeHandler::get() {
  auto query = db().entries(5);
  std::vector<Entry> entries = co_await query;
  if (entries.empty()) {
    redirect("/compose");
    co_return;
  }
  render("home.html", {{"entries", entries_json(entries)}});
}

Task<> EntryHandler::get() {
  auto query = db().entry_by_slug(path_arg(0));
  std::optional<Entry> entry = co_await query;
  if (!entry) throw HTTPError(404);
  render("entry.html", {{"entry", entry->to_json()}});
}

Task<> ArchiveHandler::get() {
  auto query = db().entries(-1);
  std::vector<Entry> entries = co_await query;
  render("archive.html", {{"entries", entries_json(entries)}});
}

Task<> FeedHandler::get() {
  auto query = db().entries(10);
  std::vector<Entry> entries = co_await query;
  std::string updated;
  for (const auto& e : entries) updated = std::max(updated, e.updated);
  if (updated.empty()) {
    char now[32];
    std::time_t t = std::time(nullptr);
    std::tm tm{};
    gmtime_r(&t, &tm);
    updated.assign(now, std::strftime(now, sizeof now, "%Y-%m-%dT%H:%M:%SZ", &tm));
  }
  set_header("Content-Type", "application/atom+xml");
  const auto& r = request();
  render("feed.xml", {{"entries", entries_json(entries)},
                      {"updated", updated},
                      {"base_url", r.protocol + "://" + r.host + "/"},
                      {"feed_url", r.protocol + "://" + r.host + r.uri}});
}

// ---- compose ----

Task<> ComposeHandler::get() {
  authenticated();
  json entry = nullptr;
  if (auto id_text = get_optional_argument("id"); id_text && !id_text->empty()) {
    auto id = parse_id(*id_text);
    if (!id) throw HTTPError(400, "bad entry id");
    auto query = db().entry_by_id(*id);
    std::optional<Entry> found = co_await query;
    if (!found) throw HTTPError(404);
    entry = found->to_json();
  }
  render("compose.html", {{"entry", entry}});
}

Task<> ComposeHandler::post() {
  authenticated();
  const std::int64_t author_id = current_user()["id"].get<std::int64_t>();
  std::string title = get_argument("title");
  std::string text = get_argument("markdown", /*strip=*/false);
  if (title.empty()) throw HTTPError(400, "title is empty");
  if (title.size() > blog().max_title_bytes) throw HTTPError(400, "title too long");
  if (text.size() > blog().max_markdown_bytes) throw HTTPError(400, "entry too long");
  std::string html = markdown_to_html(text);
  std::string slug;
  if (auto id_text = get_optional_argument("id"); id_text && !id_text->empty()) {
    auto id = parse_id(*id_text);
    if (!id) throw HTTPError(400, "bad entry id");
    auto query = db().entry_by_id(*id);
    std::optional<Entry> entry = co_await query;
    if (!entry) throw HTTPError(404);
    // Authors edit their own entries (Tornado's demo has a single author).
    if (entry->author_id != author_id) throw HTTPError(403, "not the entry's author");
    slug = entry->slug;
    auto update = db().update_entry(*id, title, text, html);
    co_await update;
  } else {
    auto insert = db().create_entry(author_id, title, slugify(title), text, html);
    slug = co_await insert;
  }
  redirect("/entry/" + slug);
}

// ---- authors ----

Task<> AuthCreateHandler::get() {
  render("create_author.html", {{"error", nullptr}});
  co_return;
}

Task<> AuthCreateHandler::post() {
  std::string email = get_argument("email");
  std::string name = get_argument("name");
  std::string password = get_argument("password", /*strip=*/false);
  std::string error;
  if (email.empty() || email.find('@') == std::string::npos || email.size() > 100) {
    error = "a valid email address is required";
  } else if (name.empty() || name.size() > 100) {
    error = "a name (at most 100 bytes) is required";
  } else if (password.size() < 8 || password.size() > 1024) {
    error = "the password needs 8 to 1024 characters";
  }
  if (!error.empty()) {
    set_status(400);
    render("create_author.html", {{"error", error}});
    co_return;
  }
  auto hashing =
      tornado::IOLoop::current().run_in_executor([password] { return hash_password(password); });
  std::string hashed = co_await hashing;
  auto insert = db().create_author(email, name, hashed);
  std::optional<std::int64_t> id = co_await insert;
  if (!id) {
    set_status(400);
    render("create_author.html", {{"error", "an author with this email already exists"}});
    co_return;
  }
  set_user_cookie(*id);
  redirect_to_next();
}

Task<> AuthLoginHandler::get() {
  auto query = db().any_author();
  bool any = co_await query;
  if (!any) {
    redirect("/auth/create");
    co_return;
  }
  render("login.html", {{"error", nullptr}});
}

Task<> AuthLoginHandler::post() {
  std::string email = get_argument("email");
  std::string password = get_argument("password", /*strip=*/false);
  auto query = db().author_by_email(email);
  std::optional<Author> author = co_await query;
  if (!author) {
    render("login.html", {{"error", "email not found"}});
    co_return;
  }
  auto checking = tornado::IOLoop::current().run_in_executor(
      [password, stored = author->hashed_password] { return verify_password(password, stored); });
  bool ok = co_await checking;
  if (!ok) {
    render("login.html", {{"error", "incorrect password"}});
    co_return;
  }
  set_user_cookie(author->id);
  redirect_to_next();
}

Task<> AuthLogoutHandler::get() {
  clear_cookie(kUserCookie);
  redirect_to_next();
  co_return;
}

// ---- UI module ----

std::string EntryModule::render(const std::vector<json>& args, const json&) {
  if (args.size() != 1 || !args[0].is_object()) {
    throw std::invalid_argument("Entry(entry) takes one entry");
  }
  return render_string("modules/entry.html", {{"entry", args[0]}});
}

}  // namespace blog
