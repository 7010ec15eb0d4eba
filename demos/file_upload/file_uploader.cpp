// Tornado's demos/file_upload client (file_uploader.py): streams files from disk with
// HTTPRequest::body_producer, one read buffer at a time, whatever their size.
//
//   build/demos/file_upload/file_uploader [--method=POST|PUT]
//       [--url=http://127.0.0.1:8888/upload] [--chunk_size=65536] [--request_timeout=1h]
//       FILE...
//
// POST sends every file in one multipart/form-data request (each part named after its
// file, framing generated on the fly); PUT sends each file to URL/<its name>. Both declare
// a Content-Length computed up front from the files' sizes, so the body is sent as it is
// (not chunked). The server's answer is printed, one line per request; a failure prints the
// error on stderr and exits 1.
//
// Files are read with blocking read(2) on the loop thread, as Tornado's demo does: fine for
// a local disk and a one-request client (a server would use the executor).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <random>
#include <string>
#include <system_error>
#include <vector>

#include "tornado/escape.h"
#include "tornado/httpclient.h"
#include "tornado/ioloop.h"
#include "tornado/options.h"
#include "tornado/web/mimetypes.h"

using namespace tornado;
using httpclient::BodyWriter;

namespace {

// A file to send: its path, the name it is sent under, its size and type.
struct Upload {
  std::string path;
  std::string name;  // the last path component, without '"', CR or LF
  std::uint64_t size = 0;
  std::string content_type;
};

Upload describe(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    throw std::system_error(errno, std::generic_category(), path);
  }
  if (!S_ISREG(st.st_mode)) throw std::runtime_error(path + ": not a regular file");
  Upload u;
  u.path = path;
  std::string base = path.substr(path.find_last_of('/') + 1);
  for (char c : base) {
    if (c != '"' && c != '\r' && c != '\n') u.name += c;
  }
  u.size = static_cast<std::uint64_t>(st.st_size);
  u.content_type =
      web::MimeTypes::system().guess_type(u.name).type.value_or("application/octet-stream");
  return u;
}

// Streams `upload`'s bytes through `write`, `chunk_size` at a time, awaiting each write
// (so one buffer is in memory at a time). A file that changed size is an error.
Task<> send_file(Upload upload, std::size_t chunk_size, BodyWriter write) {
  int fd = ::open(upload.path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw std::system_error(errno, std::generic_category(), upload.path);
  std::string buffer(chunk_size, '\0');
  std::uint64_t sent = 0;
  std::exception_ptr error;
  try {
    for (;;) {
      ssize_t n = ::read(fd, buffer.data(), buffer.size());
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) throw std::system_error(errno, std::generic_category(), upload.path);
      if (n == 0) break;
      sent += static_cast<std::uint64_t>(n);
      co_await write(std::string_view(buffer.data(), static_cast<std::size_t>(n)));
    }
    if (sent != upload.size) throw std::runtime_error(upload.path + " changed size while sent");
  } catch (...) {
    error = std::current_exception();
  }
  ::close(fd);
  if (error) std::rethrow_exception(error);
}

// The multipart framing around each file, and the closing delimiter.
std::string part_head(const std::string& boundary, const Upload& u) {
  return "--" + boundary + "\r\nContent-Disposition: form-data; name=\"" + u.name +
         "\"; filename=\"" + u.name + "\"\r\nContent-Type: " + u.content_type + "\r\n\r\n";
}
std::string closing(const std::string& boundary) { return "--" + boundary + "--\r\n"; }

std::string random_boundary() {
  std::random_device rd;
  std::string out;
  for (int i = 0; i < 32; ++i) out += "0123456789abcdef"[rd() % 16];
  return out;
}

// Fetches `req` and prints the answer; false (and a message on stderr) when it failed.
Task<bool> send(httpclient::HTTPRequest req) {
  auto client = httpclient::AsyncHTTPClient::current();
  try {
    httpclient::HTTPResponse response = co_await client->fetch(req);
    std::printf("%s\n", response.body.c_str());
    std::fflush(stdout);
    co_return true;
  } catch (const httpclient::HTTPClientError& e) {
    std::string body = e.response() ? " " + e.response()->body : std::string();
    std::fprintf(stderr, "%s: %s%s\n", req.url.c_str(), e.what(), body.c_str());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: %s\n", req.url.c_str(), e.what());
  }
  co_return false;
}

Task<bool> post_files(std::vector<Upload> uploads, std::string url, std::size_t chunk_size,
                      Duration timeout) {
  const std::string boundary = random_boundary();
  std::uint64_t length = closing(boundary).size();
  for (const auto& u : uploads) length += part_head(boundary, u).size() + u.size + 2;
  httpclient::HTTPRequest req(url);
  req.method = "POST";
  req.request_timeout = timeout;
  req.headers.set("Content-Type", "multipart/form-data; boundary=" + boundary);
  req.headers.set("Content-Length", std::to_string(length));
  // The body, generated as it goes: head, file bytes, CRLF, for each file; then the end.
  req.body_producer = [uploads, boundary, chunk_size](BodyWriter write) -> Task<> {
    for (const auto& u : uploads) {
      co_await write(part_head(boundary, u));
      co_await send_file(u, chunk_size, write);
      co_await write("\r\n");
    }
    co_await write(closing(boundary));
  };
  co_return co_await send(std::move(req));
}

Task<bool> put_files(std::vector<Upload> uploads, std::string url, std::size_t chunk_size,
                     Duration timeout) {
  bool ok = true;
  for (const auto& u : uploads) {
    httpclient::HTTPRequest req(url + "/" + escape::url_escape(u.name, false));
    req.method = "PUT";
    req.request_timeout = timeout;
    req.headers.set("Content-Type", u.content_type);
    req.headers.set("Content-Length", std::to_string(u.size));
    req.body_producer = [u, chunk_size](BodyWriter write) -> Task<> {
      co_await send_file(u, chunk_size, write);
    };
    ok = co_await send(std::move(req)) && ok;
  }
  co_return ok;
}

}  // namespace

int main(int argc, char** argv) {
  options::define<std::string>("method", "POST",
                               "POST (one multipart request) or PUT (one per file)");
  options::define<std::string>("url", "http://127.0.0.1:8888/upload",
                               "where to send (PUT appends /<file name>)");
  options::define<int>("chunk_size", 64 * 1024, "bytes read from a file and written at a time");
  options::define("request_timeout", options::Duration(std::chrono::hours(1)),
                  "limit for each whole request (1h, 30s, ...)");
  std::vector<std::string> files = options::parse_command_line(argc, argv);
  const std::string method = options::get<std::string>("method");
  const int chunk_size = options::get<int>("chunk_size");
  if ((method != "POST" && method != "PUT") || chunk_size <= 0 || files.empty()) {
    std::fprintf(stderr,
                 "usage: file_uploader [--method=POST|PUT] [--url=URL] [--chunk_size=N] FILE...\n");
    return 2;
  }
  std::vector<Upload> uploads;
  try {
    for (const auto& f : files) uploads.push_back(describe(f));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
  }
  const Duration timeout =
      std::chrono::duration_cast<Duration>(options::get<options::Duration>("request_timeout"));
  IOLoop loop;
  const std::string url = options::get<std::string>("url");
  const auto size = static_cast<std::size_t>(chunk_size);
  bool ok = loop.run_sync([&]() -> Task<bool> {
    if (method == "PUT") return put_files(uploads, url, size, timeout);
    return post_files(uploads, url, size, timeout);
  });
  return ok ? 0 : 1;
}
