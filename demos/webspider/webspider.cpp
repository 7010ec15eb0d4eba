// webspider — Tornado's web spider demo: N workers take URLs from a Queue, fetch them with
// AsyncHTTPClient, and queue every link beneath the base URL once; a progress line (pages
// done, queued, errors, rate) runs on a terminal.
//
//   build/demos/webspider/webspider --url=http://127.0.0.1:8888/ [--concurrency=10]
//                                   [--max-pages=10000] [--timeout=300] [--progress=auto]
//
// Prints "fetched <url>" for each page (to stdout), then "Done in N seconds, fetched M
// URLs." and "Unable to fetch K URLs." with each of those and its error, as Tornado's does.
// Exits 0 when the crawl finished (dead links included), 1 when it ran past --timeout,
// 2 on a bad option or URL.
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "links.h"
#include "tornado/httpclient.h"
#include "tornado/ioloop.h"
#include "tornado/log.h"
#include "tornado/options.h"
#include "tornado/queues.h"

using namespace tornado;

namespace {

struct Spider {
  std::string base;
  std::shared_ptr<httpclient::AsyncHTTPClient> client;  // max_clients = --concurrency
  std::size_t max_pages = 0;
  bool progress = false;
  // None (nullopt) tells a worker to stop, as Tornado's demo puts None.
  queues::Queue<std::optional<std::string>> queue;
  std::set<std::string> seen;  // queued or fetched: each URL goes in the queue once
  std::set<std::string> fetching, fetched;
  std::vector<std::pair<std::string, std::string>> dead;  // url, why
  std::size_t skipped = 0;                                 // past --max-pages
  std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now();

  // One line of output; the progress line (stderr, a terminal) is cleared and drawn again.
  void say(const std::string& line) {
    if (progress) std::fputs("\r\033[K", stderr);
    std::printf("%s\n", line.c_str());
    std::fflush(stdout);
    draw_progress();
  }
  void draw_progress() {
    if (!progress) return;
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::fprintf(stderr, "\r\033[K%zu done, %zu queued, %zu errors, %.1f pages/s",
                 fetched.size(), queue.qsize(), dead.size(),
                 seconds > 0 ? static_cast<double>(fetched.size()) / seconds : 0.0);
    std::fflush(stderr);
  }
};

Task<std::vector<std::string>> get_links_from_url(Spider& spider, std::string url) {
  httpclient::HTTPResponse response = co_await spider.client->fetch(url);
  spider.say("fetched " + url);
  std::vector<std::string> urls;
  for (const std::string& link : webspider::get_links(response.body)) {
    urls.push_back(webspider::urljoin(url, webspider::remove_fragment(link)));
  }
  co_return urls;
}

Task<> fetch_url(Spider& spider, std::string url) {
  if (spider.fetching.contains(url)) co_return;
  spider.fetching.insert(url);
  std::vector<std::string> urls = co_await get_links_from_url(spider, url);
  spider.fetched.insert(url);
  for (std::string& next : urls) {
    // Only links beneath the base URL, each once, and no more than --max-pages.
    if (!next.starts_with(spider.base) || spider.seen.contains(next)) continue;
    if (spider.seen.size() >= spider.max_pages) {
      ++spider.skipped;
      continue;
    }
    spider.seen.insert(next);
    co_await spider.queue.put(std::move(next));
  }
}

Task<> worker(Spider& spider) {
  for (;;) {
    std::optional<std::string> url = co_await spider.queue.get();
    if (!url) co_return;
    std::string error;
    try {
      co_await fetch_url(spider, *url);
    } catch (const std::exception& e) {
      error = e.what();
    }
    if (!error.empty()) {
      spider.dead.emplace_back(*url, error);
      spider.say("Exception: " + error + " " + *url);
    }
    spider.queue.task_done();
  }
}

Task<int> crawl(Spider& spider, int concurrency, Duration timeout) {
  spider.seen.insert(spider.base);
  co_await spider.queue.put(spider.base);
  std::vector<Future<void>> workers;
  for (int i = 0; i < concurrency; ++i) workers.push_back(spawn(worker(spider)));
  std::optional<PeriodicCallback> ticker;
  if (spider.progress) {
    ticker.emplace([&spider] { spider.draw_progress(); }, std::chrono::milliseconds(200));
    ticker->start();
  }
  int status = 0;
  try {
    co_await spider.queue.join(timeout);
  } catch (const TimeoutError&) {
    status = 1;
  }
  if (ticker) ticker->stop();
  if (spider.progress) std::fputs("\r\033[K", stderr);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - spider.start).count();
  std::printf("Done in %d seconds, fetched %zu URLs.\n", static_cast<int>(seconds),
              spider.fetched.size());
  std::printf("Unable to fetch %zu URLs.\n", spider.dead.size());
  for (const auto& [url, why] : spider.dead) std::printf("  %s: %s\n", url.c_str(), why.c_str());
  if (spider.skipped) {
    std::printf("Not followed past --max-pages=%zu: %zu links.\n", spider.max_pages,
                spider.skipped);
  }
  if (status != 0) {
    std::printf("Stopped after --timeout: %zu URLs still queued or in flight.\n",
                spider.queue.unfinished_tasks());
    co_return status;  // the workers are abandoned with the loop
  }
  for (int i = 0; i < concurrency; ++i) co_await spider.queue.put(std::nullopt);
  for (auto& w : workers) co_await w;
  co_return 0;
}

}  // namespace

int main(int argc, char** argv) {
  ::signal(SIGPIPE, SIG_IGN);
  options::define<std::string>("url", "http://127.0.0.1:8888/",
                               "the base URL: the crawl starts there and stays beneath it");
  options::define<int>("concurrency", 10, "workers (and concurrent requests)");
  options::define<int>("max-pages", 10000, "the most URLs to fetch");
  options::define<double>("timeout", 300, "seconds before the crawl is stopped");
  options::define<std::string>("progress", "auto", "the progress line: auto (a terminal), on, off");
  options::parse_command_line(argc, argv);
  Spider spider;
  spider.base = options::get<std::string>("url");
  const int concurrency = options::get<int>("concurrency");
  const std::string progress = options::get<std::string>("progress");
  if (!spider.base.starts_with("http://") && !spider.base.starts_with("https://")) {
    std::fprintf(stderr, "webspider: --url must be an http:// or https:// URL\n");
    return 2;
  }
  if (concurrency < 1 || options::get<int>("max-pages") < 1 || options::get<double>("timeout") <= 0 ||
      (progress != "auto" && progress != "on" && progress != "off")) {
    std::fprintf(stderr, "webspider: --concurrency, --max-pages and --timeout must be positive, "
                         "--progress auto, on or off\n");
    return 2;
  }
  spider.max_pages = static_cast<std::size_t>(options::get<int>("max-pages"));
  spider.progress = progress == "on" || (progress == "auto" && ::isatty(STDERR_FILENO));
  IOLoop loop;
  httpclient::AsyncHTTPClientOptions client_options;
  client_options.max_clients = static_cast<std::size_t>(concurrency);
  spider.client = std::make_shared<httpclient::AsyncHTTPClient>(client_options);
  const Duration timeout(options::get<double>("timeout"));
  return loop.run_sync([&]() -> Task<int> { return crawl(spider, concurrency, timeout); },
                       timeout + std::chrono::seconds(10));
}
