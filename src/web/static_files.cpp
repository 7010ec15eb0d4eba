// web: static file resolution (never outside the root, symlinks included), safe opening,
// and the content-hash versions of static URLs.
#include "tornado/web/static_files.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <memory>
#include <system_error>
#include <utility>
#include <variant>
#include <vector>

#include "tornado/log.h"

namespace tornado::web {
namespace {

constexpr std::size_t kHashPiece = 64 * 1024;

std::string current_directory() {
  std::vector<char> buf(PATH_MAX);
  if (::getcwd(buf.data(), buf.size()) == nullptr) return "/";
  return buf.data();
}

// os.path.normpath on an absolute path (the leading '/' is assumed).
std::string normalize_absolute(std::string_view path) {
  std::vector<std::string_view> segments;
  while (!path.empty()) {
    auto slash = path.find('/');
    std::string_view segment = path.substr(0, slash);
    path.remove_prefix(slash == std::string_view::npos ? path.size() : slash + 1);
    if (segment.empty() || segment == ".") continue;
    if (segment == "..") {
      if (!segments.empty()) segments.pop_back();
      continue;
    }
    segments.push_back(segment);
  }
  std::string out;
  for (std::string_view segment : segments) {
    out += '/';
    out += segment;
  }
  return out.empty() ? "/" : out;
}

// True if `path` is `root` or lies under it (both normalised, without trailing '/').
bool is_inside(std::string_view path, std::string_view root) {
  if (root == "/") return !path.empty() && path.front() == '/';
  return path == root || (path.starts_with(root) && path[root.size()] == '/');
}

std::optional<std::string> real_path(const std::string& path) {
  std::unique_ptr<char, decltype(&std::free)> resolved(::realpath(path.c_str(), nullptr),
                                                       &std::free);
  if (!resolved) return std::nullopt;
  return std::string(resolved.get());
}

StaticPath error(int status, std::string log_message = {}) {
  StaticPath result;
  result.kind = StaticPath::kError;
  result.status = status;
  result.log_message = std::move(log_message);
  return result;
}

// The real path of `candidate` if it exists inside `root_real`; otherwise the error.
std::variant<std::string, StaticPath> real_path_inside(const std::string& candidate,
                                                       const std::string& root_real,
                                                       std::string_view path) {
  std::optional<std::string> real = real_path(candidate);
  if (!real) return error(404);
  if (!is_inside(*real, root_real)) {
    return error(403, std::string(path) + " is not in root static directory");
  }
  return *std::move(real);
}

int open_beneath(const std::string& root_real, const std::string& absolute_path, int flags) {
  static std::atomic<bool> have_openat2{true};
  if (have_openat2.load(std::memory_order_relaxed)) {
    int root_fd = ::open(root_real.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (root_fd < 0) return -1;
    std::string_view relative = std::string_view(absolute_path).substr(root_real.size());
    while (!relative.empty() && relative.front() == '/') relative.remove_prefix(1);
    open_how how{};
    how.flags = static_cast<uint64_t>(flags);
    how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
    std::string rel(relative);
    int fd = static_cast<int>(::syscall(SYS_openat2, root_fd, rel.c_str(), &how, sizeof how));
    int saved = errno;
    ::close(root_fd);
    if (fd >= 0 || saved != ENOSYS) {
      errno = saved;
      return fd;
    }
    have_openat2.store(false, std::memory_order_relaxed);  // a kernel before 5.6
  }
  return ::open(absolute_path.c_str(), flags | O_NOFOLLOW);
}

}  // namespace

std::string get_absolute_path(std::string_view root, std::string_view path) {
  std::string joined;
  if (!path.empty() && path.front() == '/') {
    joined = path;
  } else {
    joined = root;
    if (!joined.empty() && joined.back() != '/') joined += '/';
    joined += path;
  }
  if (joined.empty() || joined.front() != '/') joined = current_directory() + "/" + joined;
  return normalize_absolute(joined);
}

StaticPath resolve_static_path(std::string_view root, std::string_view path,
                               std::string_view request_path,
                               const std::optional<std::string>& default_filename) {
  std::string root_abs = get_absolute_path(root, "");
  if (path.find('\0') != std::string_view::npos) return error(404);
  std::string absolute = get_absolute_path(root_abs, path);
  if (!is_inside(absolute, root_abs)) {
    return error(403, std::string(path) + " is not in root static directory");
  }
  std::optional<std::string> root_real = real_path(root_abs);
  if (!root_real) return error(404, "static root " + root_abs + " does not exist");

  auto found = real_path_inside(absolute, *root_real, path);
  if (auto* failed = std::get_if<StaticPath>(&found)) return std::move(*failed);
  std::string real = std::get<std::string>(std::move(found));

  struct stat st {};
  if (::stat(real.c_str(), &st) != 0) return error(404);
  if (S_ISDIR(st.st_mode) && default_filename) {
    if (!request_path.ends_with('/')) {
      // "//host/..." in a Location is another host to a browser: an open redirect.
      if (request_path.starts_with("//")) {
        return error(403, "cannot redirect path with two initial slashes");
      }
      StaticPath redirect;
      redirect.kind = StaticPath::kRedirect;
      redirect.status = 301;
      redirect.location = std::string(request_path) + "/";
      return redirect;
    }
    found = real_path_inside(real + "/" + *default_filename, *root_real, path);
    if (auto* failed = std::get_if<StaticPath>(&found)) return std::move(*failed);
    real = std::get<std::string>(std::move(found));
    if (::stat(real.c_str(), &st) != 0) return error(404);
  }
  if (!S_ISREG(st.st_mode)) return error(403, std::string(path) + " is not a file");

  StaticPath result;
  result.kind = StaticPath::kFile;
  result.status = 200;
  result.absolute_path = std::move(real);
  result.root_real = *std::move(root_real);
  return result;
}

// ---- StaticFile ----

StaticFile::~StaticFile() {
  if (fd_ >= 0) ::close(fd_);
}

StaticFile::StaticFile(StaticFile&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)),
      error_(other.error_),
      size_(other.size_),
      modified_(other.modified_) {}

StaticFile& StaticFile::operator=(StaticFile&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(other.fd_, -1);
    error_ = other.error_;
    size_ = other.size_;
    modified_ = other.modified_;
  }
  return *this;
}

StaticFile StaticFile::from_fd(int fd) {
  StaticFile file;
  if (fd < 0) {
    file.error_ = errno;
    return file;
  }
  struct stat st {};
  int failure = ::fstat(fd, &st) != 0 ? errno : (S_ISREG(st.st_mode) ? 0 : EINVAL);
  if (failure != 0) {
    file.error_ = failure;
    ::close(fd);
    return file;
  }
  file.fd_ = fd;
  file.size_ = static_cast<int64_t>(st.st_size);
  file.modified_ = static_cast<int64_t>(st.st_mtim.tv_sec);
  return file;
}

StaticFile StaticFile::open(const StaticPath& path) {
  if (path.kind != StaticPath::kFile) {
    StaticFile file;
    file.error_ = ENOENT;
    return file;
  }
  return from_fd(open_beneath(path.root_real, path.absolute_path,
                              O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY));
}

StaticFile StaticFile::open_trusted(const std::string& path) {
  return from_fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY));
}

void StaticFile::read_at(int64_t offset, std::size_t max_bytes, std::string& out) const {
  out.resize(max_bytes);
  std::size_t got = 0;
  while (got < max_bytes) {
    ssize_t n = ::pread(fd_, out.data() + got, max_bytes - got, static_cast<off_t>(offset + got));
    if (n < 0) {
      if (errno == EINTR) continue;
      out.clear();
      throw std::system_error(errno, std::generic_category(), "pread");
    }
    if (n == 0) break;
    got += static_cast<std::size_t>(n);
  }
  out.resize(got);
}

// ---- content versions ----

std::optional<std::string> get_content_version(const std::string& absolute_path) {
  StaticFile file = StaticFile::open_trusted(absolute_path);
  if (!file.valid()) return std::nullopt;
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
  if (!ctx || EVP_DigestInit_ex(ctx.get(), EVP_sha512(), nullptr) != 1) return std::nullopt;
  std::string piece;
  int64_t offset = 0;
  try {
    do {
      file.read_at(offset, kHashPiece, piece);
      offset += static_cast<int64_t>(piece.size());
      if (EVP_DigestUpdate(ctx.get(), piece.data(), piece.size()) != 1) return std::nullopt;
    } while (!piece.empty());
  } catch (const std::system_error&) {
    return std::nullopt;
  }
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (EVP_DigestFinal_ex(ctx.get(), digest, &length) != 1) return std::nullopt;
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(length * 2);
  for (unsigned int i = 0; i < length; ++i) {
    hex += kHex[digest[i] >> 4];
    hex += kHex[digest[i] & 15];
  }
  return hex;
}

std::optional<std::string> StaticHashCache::get(const std::string& absolute_path, bool use_cache) {
  if (use_cache) {
    std::lock_guard lock(mutex_);
    if (auto it = hashes_.find(absolute_path); it != hashes_.end()) return it->second;
  }
  // Hashed outside the lock: a large file must not stall every other thread's lookups.
  std::optional<std::string> version = get_content_version(absolute_path);
  if (!version) gen_log().error("Could not open static file '{}'", absolute_path);
  if (use_cache) {
    std::lock_guard lock(mutex_);
    return hashes_.try_emplace(absolute_path, std::move(version)).first->second;
  }
  return version;
}

std::optional<std::optional<std::string>> StaticHashCache::find(
    const std::string& absolute_path) const {
  std::lock_guard lock(mutex_);
  if (auto it = hashes_.find(absolute_path); it != hashes_.end()) return it->second;
  return std::nullopt;
}

void StaticHashCache::reset() {
  std::lock_guard lock(mutex_);
  hashes_.clear();
}

std::size_t StaticHashCache::size() const {
  std::lock_guard lock(mutex_);
  return hashes_.size();
}

StaticHashCache& static_hash_cache() {
  static StaticHashCache cache;
  return cache;
}

std::optional<std::string> get_static_version(std::string_view root, std::string_view path,
                                              bool use_cache) {
  // request_path "/" : a directory never redirects here, it is simply not a file.
  StaticPath found = resolve_static_path(root, path, "/");
  if (found.kind != StaticPath::kFile) return std::nullopt;
  return static_hash_cache().get(found.absolute_path, use_cache);
}

std::string make_static_url(std::string_view static_url_prefix, std::string_view root,
                            std::string_view path, bool include_version, bool use_cache) {
  std::string url = std::string(static_url_prefix) + std::string(path);
  if (!include_version) return url;
  std::optional<std::string> version = get_static_version(root, path, use_cache);
  if (!version) return url;
  return url + "?v=" + *version;
}

}  // namespace tornado::web
