// The tornado-cpp side of tests/interop/test_web_signing.py: reads one JSON request a line
// on stdin, answers one JSON line on stdout. Bytes travel as hex so any value survives.
//
//   {"op": "sign", "secret": "s" | {"0": "s0", "1": "s1"}, "name": "n", "value": "<hex>",
//    "version": 2, "clock": 1300000000, "key_version": 1 | null}        → {"result": "..."}
//   {"op": "decode", "secret": ..., "name": "n", "value": "<text>", "clock": ...,
//    "max_age_days": 31, "min_version": 1}                              → {"result": "<hex>"|null}
//   {"op": "key_version", "value": "<text>"}                            → {"result": int|null}
//   {"op": "xsrf_decode", "text": "..."}   → {"result": {"version", "token", "timestamp"}|null}
//   {"op": "xsrf_encode", "token": "<hex>", "timestamp": 1300000000}   → {"result": "..."}
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>

#include "internal/hex.h"
#include "tornado/web/signing.h"
#include "tornado/web/xsrf.h"

using nlohmann::json;
using namespace tornado::web;

namespace {

CookieSecret secret_of(const json& j) {
  if (j.is_string()) return CookieSecret(j.get<std::string>());
  std::map<int, std::string> keys;
  for (const auto& [k, v] : j.items()) keys[std::stoi(k)] = v.get<std::string>();
  return CookieSecret(std::move(keys));
}

std::string unhex(const json& j) {
  return tornado::internal::hex_decode(j.get<std::string>()).value();
}

json handle(const json& req) {
  const std::string op = req.at("op");
  if (op == "sign") {
    std::optional<int> key_version;
    if (req.contains("key_version") && !req["key_version"].is_null()) {
      key_version = req["key_version"].get<int>();
    }
    return create_signed_value(secret_of(req.at("secret")), req.at("name").get<std::string>(),
                               unhex(req.at("value")), req.value("version", 2),
                               req.at("clock").get<std::int64_t>(), key_version);
  }
  if (op == "decode") {
    auto decoded =
        decode_signed_value(secret_of(req.at("secret")), req.at("name").get<std::string>(),
                            req.at("value").get<std::string>(), req.value("max_age_days", 31.0),
                            req.at("clock").get<std::int64_t>(), req.value("min_version", 1));
    if (!decoded) return nullptr;
    return tornado::internal::hex_encode(*decoded);
  }
  if (op == "key_version") {
    auto version = get_signature_key_version(req.at("value").get<std::string>());
    if (!version) return nullptr;
    return *version;
  }
  if (op == "xsrf_decode") {
    auto token = decode_xsrf_token(req.at("text").get<std::string>());
    if (!token) return nullptr;
    return json{{"version", token->version},
                {"token", tornado::internal::hex_encode(token->token)},
                {"timestamp", token->timestamp}};
  }
  if (op == "xsrf_encode") {
    return encode_xsrf_token(unhex(req.at("token")), req.at("timestamp").get<std::int64_t>());
  }
  throw std::invalid_argument("unknown op " + op);
}

}  // namespace

int main() {
  std::string line;
  while (std::getline(std::cin, line)) {
    json reply;
    try {
      reply["result"] = handle(json::parse(line));
    } catch (const std::exception& e) {
      reply["error"] = e.what();
    }
    std::cout << reply.dump() << std::endl;
  }
}
