// tornado/web/static_files.h — the file-system side of StaticFileHandler: which file a URL
// path names (never one outside the root), opening it safely, and the content-hash versions
// behind `static_url` (Tornado's validate_absolute_path, get_content_version and
// _static_hashes).
//
//   auto found = web::resolve_static_path("/srv/static", "css/site.css", "/static/css/site.css");
//   if (found.kind == web::StaticPath::kFile) {
//     web::StaticFile file = web::StaticFile::open(found);   // size, mtime, pread
//   }
//   web::static_hash_cache().get("/srv/static/css/site.css");   // SHA-512 hex, cached
//
// Thread rule: the functions are plain blocking file-system calls (stat, realpath, open,
// read) that any thread may make; the hash cache is locked and may be shared by every
// loop thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace tornado::web {

// Where a static URL path leads.
struct StaticPath {
  enum Kind {
    kFile,      // a regular file inside the root: serve it
    kRedirect,  // a directory asked for without its trailing slash: 301 to `location`
    kError,     // answer `status` (403 or 404); `log_message` says why
  };
  Kind kind = kError;
  int status = 404;
  std::string log_message;
  std::string location;       // kRedirect: the request path with "/" appended
  std::string absolute_path;  // kFile: the file's real path (no symlinks), inside root_real
  std::string root_real;      // kFile: the root's real path
};

// Tornado's get_absolute_path: `root` joined with `path` and normalised lexically
// (os.path.abspath(os.path.join(root, path)): an absolute `path` replaces the root, `.` and
// empty segments go, `..` takes off a segment; a relative root is taken from the current
// directory). No file-system access.
std::string get_absolute_path(std::string_view root, std::string_view path);

// Tornado's validate_absolute_path, with symlinks resolved:
// - `path` (the URL path captured by the route, already URL-unescaped) joined to `root`
//   lexically must stay inside the root, else 403 "<path> is not in root static directory"
//   (`..`, absolute paths; `%2e%2e` and `%2f` count once the router has unescaped them);
// - a NUL byte, a missing file, or a path through a non-directory is 404;
// - the real path (every symlink resolved with realpath) must also lie inside the root's
//   real path, else 403 (a symlink pointing out of the root; Tornado follows those);
// - a directory: with `default_filename`, a `request_path` without a trailing slash
//   redirects to request_path + "/" (403 if it starts with "//", which a browser would read
//   as another host), and with one the default file is served (checked the same way, 404
//   when absent); without `default_filename` 403 "<path> is not a file";
// - anything but a regular file (a FIFO, a device, a socket) is 403 "<path> is not a file".
StaticPath resolve_static_path(std::string_view root, std::string_view path,
                               std::string_view request_path,
                               const std::optional<std::string>& default_filename = {});

// A regular file opened for reading; closes on destruction (movable, not copyable).
class StaticFile {
 public:
  StaticFile() = default;
  ~StaticFile();
  StaticFile(StaticFile&& other) noexcept;
  StaticFile& operator=(StaticFile&& other) noexcept;

  // Opens a kFile result without following any symlink: on Linux 5.6+ openat2 under the
  // root's real path with RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS, so a symlink swapped in
  // after resolve_static_path cannot lead out of the root; O_NOFOLLOW on the full path
  // elsewhere. O_NONBLOCK, so a FIFO swapped in cannot hang the thread. Returns an invalid
  // file (valid() false, `error` the errno) when the open fails or the file is not regular.
  static StaticFile open(const StaticPath& path);
  // Opens a path the caller trusts (the content-hash cache): O_NOFOLLOW is not used.
  static StaticFile open_trusted(const std::string& path);

  bool valid() const noexcept { return fd_ >= 0; }
  int fd() const noexcept { return fd_; }
  int error() const noexcept { return error_; }
  int64_t size() const noexcept { return size_; }
  // Modification time, whole seconds since the epoch (Tornado truncates st_mtime).
  int64_t modified() const noexcept { return modified_; }
  // Reads up to `max_bytes` at `offset` into `out` (replacing its contents) with pread;
  // fewer at the end of the file. Throws std::system_error on a read error.
  void read_at(int64_t offset, std::size_t max_bytes, std::string& out) const;

 private:
  static StaticFile from_fd(int fd);
  int fd_ = -1;
  int error_ = 0;
  int64_t size_ = 0;
  int64_t modified_ = 0;
};

// Tornado's get_content_version: the SHA-512 hex digest (128 characters) of the file,
// read in 64 KiB pieces. nullopt if it cannot be read.
std::optional<std::string> get_content_version(const std::string& absolute_path);

// The content hashes of static files by absolute path (Tornado's _static_hashes): computed
// once per path, including failures (logged once on gen_log as "Could not open static file").
// Thread rule: any thread (a mutex guards the map; the hash is computed outside it).
class StaticHashCache {
 public:
  // The version of `absolute_path`; with `use_cache` false (the static_hash_cache setting,
  // off in debug mode) it is recomputed and the cache is left alone.
  std::optional<std::string> get(const std::string& absolute_path, bool use_cache = true);
  // The cached entry for `absolute_path` (itself nullopt for a remembered failure), or
  // nullopt when nothing is cached: never computes.
  std::optional<std::optional<std::string>> find(const std::string& absolute_path) const;
  // Forgets every hash (Tornado's StaticFileHandler.reset()).
  void reset();
  std::size_t size() const;

 private:
  mutable std::mutex mutex_;
  std::unordered_map<std::string, std::optional<std::string>> hashes_;
};

// The process-wide cache StaticFileHandler uses (Tornado keeps it on the class).
StaticHashCache& static_hash_cache();

// Tornado's get_version: the content hash of the file `path` names under `root` (resolved
// as resolve_static_path does; the cache is keyed by the real path), or nullopt when that is
// not a file the handler would serve (so no file outside the root is ever hashed).
std::optional<std::string> get_static_version(std::string_view root, std::string_view path,
                                              bool use_cache = true);

// Tornado's make_static_url: `prefix + path`, then `?v=<version>` when `include_version`
// and the file has one (a missing file gives the bare URL, as in Tornado).
std::string make_static_url(std::string_view static_url_prefix, std::string_view root,
                            std::string_view path, bool include_version = true,
                            bool use_cache = true);

}  // namespace tornado::web
