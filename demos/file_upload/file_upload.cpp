// Tornado's demos/file_upload server (file_receiver.py), streaming: nothing of an upload is
// ever held whole in memory, whatever its size.
//
//   build/demos/file_upload/file_upload [--port=8888] [--address=127.0.0.1]
//                                       [--max_body_size=17179869184] [--data_delay=0ms]
//
//   PUT  /upload/<filename>   the body is the file
//   POST /upload              multipart/form-data, parsed as it arrives (MultipartStreamParser)
//   (Tornado's demo URLs too: POST /post and PUT /<filename>, for its file_uploader.py)
//
// Each answer is JSON listing every part received, in order:
//   {"parts":[{"name":"a.bin","filename":"a.bin","content_type":"application/octet-stream",
//              "size":1048576,"sha256":"..."}]}
// (for PUT the one part's name is "file" and its filename the URL's). Each body is hashed
// (SHA-256) piece by piece as it arrives, and the reading waits for the hashing
// (stream_request_body's backpressure). The server prints "listening on ADDRESS:PORT" once
// ready; --port=0 picks a free port. --data_delay makes every body piece wait that long
// after it is hashed (a slow consumer, for bench/upload_rss.sh: the reading of the socket
// waits too, so memory stays flat).
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "sha256.h"
#include "tornado/ioloop.h"
#include "tornado/log.h"
#include "tornado/options.h"
#include "tornado/web.h"

using namespace tornado;
using file_upload::Sha256;

namespace {

std::size_t max_body_size() {
  return static_cast<std::size_t>(options::get<std::int64_t>("max_body_size"));
}

// --data_delay, read once.
Duration data_delay() {
  static const Duration delay =
      std::chrono::duration_cast<Duration>(options::get<options::Duration>("data_delay"));
  return delay;
}

// What every data_received ends with: nothing, or the slow consumer's wait.
Task<> consumer_delay() {
  if (data_delay().count() > 0) co_await sleep(data_delay());
}

// One received part: what the answer lists.
struct PartSummary {
  std::string name;
  std::optional<std::string> filename;
  std::string content_type;
  std::uint64_t size = 0;
  std::string sha256;

  nlohmann::json to_json() const {
    return {{"name", name},
            {"filename", filename ? nlohmann::json(*filename) : nlohmann::json(nullptr)},
            {"content_type", content_type},
            {"size", size},
            {"sha256", sha256}};
  }
};

nlohmann::json answer(const std::vector<PartSummary>& parts) {
  nlohmann::json list = nlohmann::json::array();
  for (const auto& p : parts) list.push_back(p.to_json());
  return {{"parts", list}};
}

// PUT /upload/<filename>: the body is one file.
struct PutHandler : web::RequestHandler {
  bool stream_request_body() const override { return true; }
  std::optional<std::size_t> max_body_size() const override { return ::max_body_size(); }

  Task<> data_received(std::string_view chunk) override {
    size_ += chunk.size();
    sha_.update(chunk);
    co_await consumer_delay();
  }

  Task<> put() override {
    PartSummary part;
    part.name = "file";
    part.filename = path_arg(0);
    part.content_type = request().headers.get("Content-Type", "application/unknown");
    part.size = size_;
    part.sha256 = sha_.hex();
    app_log().info("PUT \"{}\" \"{}\" {} bytes sha256 {}", *part.filename, part.content_type,
                   part.size, part.sha256);
    write(answer({part}));
    co_return;
  }

 private:
  std::uint64_t size_ = 0;
  Sha256 sha_;
};

// POST /upload: multipart/form-data, each part hashed as its bytes go by.
struct PostHandler : web::RequestHandler {
  bool stream_request_body() const override { return true; }
  std::optional<std::size_t> max_body_size() const override { return ::max_body_size(); }

  Task<> prepare() override {
    httputil::MultipartStreamParser::Callbacks callbacks;
    callbacks.on_part_begin = [this](const httputil::MultipartPart& p) {
      parts_.push_back({p.name, p.filename, p.content_type, 0, {}});
      sha_.emplace();
    };
    callbacks.on_part_data = [this](std::string_view bytes) {
      parts_.back().size += bytes.size();
      sha_->update(bytes);
    };
    callbacks.on_part_end = [this] {
      parts_.back().sha256 = sha_->hex();
      sha_.reset();
      const PartSummary& p = parts_.back();
      app_log().info("POST \"{}\" \"{}\" \"{}\" {} bytes sha256 {}", p.name,
                     p.filename.value_or(""), p.content_type, p.size, p.sha256);
    };
    try {
      parser_.emplace(httputil::MultipartStreamParser::from_content_type(
          request().headers.get("Content-Type", ""), std::move(callbacks)));
    } catch (const httputil::MultipartError& e) {
      throw web::HTTPError(400, e.what());
    }
    co_return;
  }

  Task<> data_received(std::string_view chunk) override {
    try {
      parser_->feed(chunk);
    } catch (const httputil::MultipartError& e) {
      throw web::HTTPError(400, e.what());
    }
    co_await consumer_delay();
  }

  Task<> post() override {
    try {
      parser_->finish();
    } catch (const httputil::MultipartError& e) {
      throw web::HTTPError(400, e.what());
    }
    write(answer(parts_));
    co_return;
  }

 private:
  std::optional<httputil::MultipartStreamParser> parser_;
  std::optional<Sha256> sha_;  // of the part being received
  std::vector<PartSummary> parts_;
};

}  // namespace

int main(int argc, char** argv) {
  options::define<int>("port", 8888, "port to listen on (0: a free one)");
  options::define<std::string>("address", "127.0.0.1", "address to listen on");
  options::define<std::int64_t>("max_body_size", std::int64_t(16) << 30,
                                "largest upload accepted, in bytes (413 past it)");
  options::define("data_delay", options::Duration(0),
                  "wait after each body piece (a slow consumer: 1ms, 0 = none)");
  options::parse_command_line(argc, argv);
  if (options::get<std::int64_t>("max_body_size") <= 0) {
    std::fprintf(stderr, "--max_body_size must be positive\n");
    return 2;
  }
  IOLoop loop;
  web::Application app({
      {"/upload", web::handler<PostHandler>()},
      {"/upload/(.+)", web::handler<PutHandler>()},
      {"/post", web::handler<PostHandler>()},  // Tornado's demo URLs
      {"/(.+)", web::handler<PutHandler>()},
  });
  HTTPServer& server =
      app.listen(options::get<int>("port"), {}, options::get<std::string>("address"));
  for (const auto& a : server.listening_addresses()) {
    std::printf("listening on %s\n", a.to_string().c_str());
  }
  std::fflush(stdout);
  loop.start();
}
