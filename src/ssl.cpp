// SSLContext: OpenSSL 3 contexts configured the way Tornado's ssl_options are.
#include "tornado/ssl.h"

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "internal/openssl_errors.h"

namespace tornado {

namespace detail {

std::string take_openssl_errors(const std::string& fallback) {
  std::string out;
  while (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out.empty() ? fallback : out;
}

}  // namespace detail

namespace {

[[noreturn]] void fail(SSL_CTX* ctx, const std::string& what) {
  std::string reason = detail::take_openssl_errors();
  if (ctx) SSL_CTX_free(ctx);
  throw SSLError(what + ": " + reason);
}

SSL_CTX* new_ctx(const SSL_METHOD* method, const std::string& ciphers) {
  ERR_clear_error();
  SSL_CTX* ctx = SSL_CTX_new(method);
  if (!ctx) fail(nullptr, "SSL_CTX_new");
  // TLS 1.0/1.1 are deprecated (RFC 8996).
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  // Read whole records in one recv instead of header then body.
  SSL_CTX_set_read_ahead(ctx, 1);
  if (!ciphers.empty() && SSL_CTX_set_cipher_list(ctx, ciphers.c_str()) != 1) {
    fail(ctx, "invalid cipher list '" + ciphers + "'");
  }
  return ctx;
}

void load_chain(SSL_CTX* ctx, const std::string& certfile, const std::string& keyfile) {
  if (SSL_CTX_use_certificate_chain_file(ctx, certfile.c_str()) != 1) {
    fail(ctx, "cannot load certificate chain '" + certfile + "'");
  }
  const std::string& key = keyfile.empty() ? certfile : keyfile;
  if (SSL_CTX_use_PrivateKey_file(ctx, key.c_str(), SSL_FILETYPE_PEM) != 1) {
    fail(ctx, "cannot load private key '" + key + "'");
  }
  if (SSL_CTX_check_private_key(ctx) != 1) fail(ctx, "private key does not match certificate");
}

// ALPN on the server: the first of our protocols (in our order) that the client offers.
int select_alpn(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in,
                unsigned int inlen, void* arg) {
  auto* wire = static_cast<std::vector<unsigned char>*>(arg);
  unsigned char* selected = nullptr;
  if (SSL_select_next_proto(&selected, outlen, wire->data(), static_cast<unsigned>(wire->size()),
                            in, inlen) != OPENSSL_NPN_NEGOTIATED) {
    return SSL_TLSEXT_ERR_NOACK;  // no common protocol: continue without ALPN
  }
  *out = selected;
  return SSL_TLSEXT_ERR_OK;
}

}  // namespace

SSLContext::SSLContext(SSL_CTX* ctx, bool server, bool verify)
    : ctx_(ctx), server_(server), verify_(verify) {}

SSLContext::~SSLContext() { SSL_CTX_free(ctx_); }

std::shared_ptr<SSLContext> SSLContext::server(const std::string& certfile,
                                               const std::string& keyfile) {
  SSLServerOptions options;
  options.certfile = certfile;
  options.keyfile = keyfile;
  return server(options);
}

std::shared_ptr<SSLContext> SSLContext::server(const SSLServerOptions& options) {
  if (options.certfile.empty()) throw SSLError("SSLContext::server: certfile is required");
  SSL_CTX* ctx = new_ctx(TLS_server_method(), options.ciphers);
  load_chain(ctx, options.certfile, options.keyfile);
  if (!options.ca_certs.empty()) {
    if (SSL_CTX_load_verify_locations(ctx, options.ca_certs.c_str(), nullptr) != 1) {
      fail(ctx, "cannot load CA certificates '" + options.ca_certs + "'");
    }
    int mode = SSL_VERIFY_PEER;
    if (options.require_client_cert) mode |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
    SSL_CTX_set_verify(ctx, mode, nullptr);
  } else if (options.require_client_cert) {
    SSL_CTX_free(ctx);
    throw SSLError("SSLContext::server: require_client_cert needs ca_certs");
  }
  static const unsigned char kSessionContext[] = "tornado";
  SSL_CTX_set_session_id_context(ctx, kSessionContext, sizeof kSessionContext - 1);
  return std::shared_ptr<SSLContext>(new SSLContext(ctx, true, options.require_client_cert));
}

std::shared_ptr<SSLContext> SSLContext::client() { return client(SSLClientOptions{}); }

std::shared_ptr<SSLContext> SSLContext::client(const SSLClientOptions& options) {
  SSL_CTX* ctx = new_ctx(TLS_client_method(), options.ciphers);
  if (options.verify) {
    int ok = options.ca_certs.empty()
                 ? SSL_CTX_set_default_verify_paths(ctx)
                 : SSL_CTX_load_verify_locations(ctx, options.ca_certs.c_str(), nullptr);
    if (ok != 1) {
      fail(ctx, options.ca_certs.empty() ? "cannot load the system CA store"
                                         : "cannot load CA certificates '" + options.ca_certs + "'");
    }
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
  } else {
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
  }
  if (!options.certfile.empty()) load_chain(ctx, options.certfile, options.keyfile);
  return std::shared_ptr<SSLContext>(new SSLContext(ctx, false, options.verify));
}

void SSLContext::set_alpn_protocols(const std::vector<std::string>& protocols) {
  std::vector<unsigned char> wire;
  for (const auto& p : protocols) {
    if (p.empty() || p.size() > 255) {
      throw std::invalid_argument("ALPN protocol names are 1 to 255 bytes: '" + p + "'");
    }
    wire.push_back(static_cast<unsigned char>(p.size()));
    wire.insert(wire.end(), p.begin(), p.end());
  }
  alpn_wire_ = std::move(wire);
  if (server_) {
    if (alpn_wire_.empty()) {
      SSL_CTX_set_alpn_select_cb(ctx_, nullptr, nullptr);
    } else {
      SSL_CTX_set_alpn_select_cb(ctx_, select_alpn, &alpn_wire_);
    }
  } else if (SSL_CTX_set_alpn_protos(ctx_, alpn_wire_.data(),
                                     static_cast<unsigned>(alpn_wire_.size())) != 0) {
    throw SSLError("SSL_CTX_set_alpn_protos: " + detail::take_openssl_errors());
  }
}

}  // namespace tornado
