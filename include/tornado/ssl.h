// tornado/ssl.h — TLS configuration (Tornado's `ssl_options`, over OpenSSL 3).
//
//   auto server_ctx = SSLContext::server("cert.pem", "key.pem");
//   server_ctx->set_alpn_protocols({"http/1.1"});
//   auto client_ctx = SSLContext::client();                 // verifies certificate + host
//   auto test_ctx = SSLContext::client({.verify = false});  // tests with self-signed certs
//
// A context is immutable once streams use it and may be shared by any number of them
// (and threads). Errors raise SSLError with OpenSSL's reason text.
#pragma once

#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

typedef struct ssl_ctx_st SSL_CTX;

namespace tornado {

class SSLError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct SSLServerOptions {
  std::string certfile;             // PEM chain
  std::string keyfile;              // PEM key (defaults to certfile)
  std::string ca_certs;             // to verify client certificates (mutual TLS)
  bool require_client_cert = false;
  std::string ciphers;              // OpenSSL cipher list; empty = OpenSSL defaults
};

struct SSLClientOptions {
  bool verify = true;               // verify the peer certificate and host name
  std::string ca_certs;             // PEM bundle; empty = the system store
  std::string certfile;             // client certificate, for mutual TLS
  std::string keyfile;
  std::string ciphers;
};

class SSLContext {
 public:
  static std::shared_ptr<SSLContext> server(const SSLServerOptions& options);
  static std::shared_ptr<SSLContext> server(const std::string& certfile,
                                            const std::string& keyfile = {});
  // Verifying client on the system CA store. (An overload, not a defaulted argument:
  // g++ 12 double-destroys a defaulted argument's temporary inside a co_await expression.)
  static std::shared_ptr<SSLContext> client();
  static std::shared_ptr<SSLContext> client(const SSLClientOptions& options);
  ~SSLContext();
  SSLContext(const SSLContext&) = delete;
  SSLContext& operator=(const SSLContext&) = delete;

  // Protocols to offer (client) or accept in preference order (server), e.g. "http/1.1".
  void set_alpn_protocols(const std::vector<std::string>& protocols);
  bool is_server() const noexcept { return server_; }
  bool verifies_peer() const noexcept { return verify_; }
  SSL_CTX* native_handle() const noexcept { return ctx_; }

 private:
  SSLContext(SSL_CTX* ctx, bool server, bool verify);
  SSL_CTX* ctx_;
  bool server_;
  bool verify_;
  std::vector<unsigned char> alpn_wire_;  // length-prefixed list, for the server callback
};

}  // namespace tornado
