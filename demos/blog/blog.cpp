// Tornado's blog demo on tornado-cpp: authors sign up and log in, compose and edit Markdown
// entries; the home page, entry pages by slug, the archive and an Atom feed.
//
//   build/demos/blog/blog [--port=8888] [--address=127.0.0.1] [--db=blog.db]
//                         [--cookie_secret=...] [--template_path=DIR] [--static_path=DIR]
//
// The store is SQLite (the file --db, its schema created on first start) on a database
// thread of its own, or PostgreSQL with --db=postgresql://user:pw@host/dbname (a pool on the
// loop; several blog processes may share the database); password hashes are scrypt, computed
// on the loop's executor. Templates
// and static files are built into the binary (--template_path / --static_path read them from
// a directory instead, e.g. demos/blog/templates while editing them).
#include <openssl/rand.h>

#include <csignal>
#include <iostream>
#include <optional>
#include <string>

#include "embedded_assets.h"
#include "handlers.h"
#include "tornado/ioloop.h"
#include "tornado/log.h"
#include "tornado/options.h"
#include "tornado/web.h"

using namespace tornado;
namespace opts = tornado::options;

namespace blog {
const demo::AssetMap& embedded_assets();  // written by embed_assets.cmake
}

namespace {

std::string random_secret() {
  unsigned char bytes[32];
  if (RAND_bytes(bytes, sizeof bytes) != 1) throw std::runtime_error("RAND_bytes failed");
  std::string hex;
  for (unsigned char b : bytes) {
    static constexpr char kDigits[] = "0123456789abcdef";
    hex += kDigits[b >> 4];
    hex += kDigits[b & 15];
  }
  return hex;
}

std::vector<web::URLSpec> routes(const std::shared_ptr<blog::Blog>& b) {
  using namespace blog;
  return {{"/", web::handler<HomeHandler>(b)},
          {"/archive", web::handler<ArchiveHandler>(b)},
          {"/feed", web::handler<FeedHandler>(b)},
          {"/entry/([^/]+)", web::handler<EntryHandler>(b)},
          {"/compose", web::handler<ComposeHandler>(b)},
          {"/auth/create", web::handler<AuthCreateHandler>(b)},
          {"/auth/login", web::handler<AuthLoginHandler>(b)},
          {"/auth/logout", web::handler<AuthLogoutHandler>(b)}};
}

}  // namespace

int main(int argc, char** argv) {
  opts::define("port", 8888, "run on the given port");
  opts::define<std::string>("address", "127.0.0.1", "address to listen on");
  opts::define<std::string>("db", "blog.db",
                            "SQLite database file (created if missing), or a PostgreSQL URI "
                            "postgresql://user:password@host/dbname");
  opts::define<std::string>("cookie_secret", std::nullopt,
                            "secret for signed cookies (default: random, printed at start)");
  opts::define<std::string>("template_path", std::nullopt,
                            "read templates from this directory (default: built in)");
  opts::define<std::string>("static_path", std::nullopt,
                            "serve static files from this directory (default: built in)");
  opts::define("debug", false, "debug mode (re-read changed templates, tracebacks in errors)");
  opts::parse_command_line(argc, argv);

  IOLoop loop;
  // Before any thread starts, so that every thread has these signals blocked.
  loop.add_signal_handler(SIGINT, [&loop] { loop.stop(); });
  loop.add_signal_handler(SIGTERM, [&loop] { loop.stop(); });
  auto blog = std::make_shared<blog::Blog>();
  const std::string db_path = opts::get<std::string>("db");
  try {
    blog->db = blog::make_database(db_path);
    loop.run_sync([&]() -> Task<> { co_await blog->db->open(); }, 60s);
  } catch (const std::exception& e) {
    std::cerr << "blog: " << e.what() << "\n";
    return 1;
  }

  web::Settings s;
  s.debug = opts::get<bool>("debug");
  s.serve_traceback = s.debug;
  s.compiled_template_cache = !s.debug;
  s.xsrf_cookies = true;
  s.compress_response = true;
  s.login_url = "/auth/login";
  s.ui_modules["Entry"] = web::ui_module<blog::EntryModule>();
  if (auto given = opts::get<std::optional<std::string>>("cookie_secret")) {
    s.cookie_secret = *given;
  } else {
    std::string secret = random_secret();
    app_log().warn("no --cookie_secret given; using a random one (sessions end at restart): {}",
                   secret);
    s.cookie_secret = secret;
  }
  if (auto dir = opts::get<std::optional<std::string>>("template_path")) {
    s.template_path = *dir;
  } else {
    s.template_loader = demo::embedded_templates(blog::embedded_assets());
  }
  if (auto dir = opts::get<std::optional<std::string>>("static_path")) {
    s.static_path = *dir;
  } else {
    s.static_path = "(built in)";  // a marker: EmbeddedStaticHandler reads no files
    s.static_handler_class =
        web::static_handler<demo::EmbeddedStaticHandler<blog::embedded_assets>>();
  }

  web::Application app(routes(blog), s);
  const int port = opts::get<int>("port");
  const std::string address = opts::get<std::string>("address");
  app.listen(port, {}, address);
  app_log().info("blog listening on http://{}:{}/ (database {})", address, port,
                 blog::is_postgres_url(db_path) ? "PostgreSQL" : db_path);
  loop.start();
  blog->db.reset();  // closed on the loop's thread while the loop still exists
  app_log().info("blog stopped");
}
