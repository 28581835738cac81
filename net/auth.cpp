#include "net/auth.hpp"

#include <algorithm>

#include <Poco/DigestEngine.h>
#include <Poco/SHA2Engine.h>
#include <Poco/String.h>

#include "core/text.hpp"

namespace foreman::net {

namespace {

constexpr size_t max_client_header_length = 128;

bool is_model_management(const std::string& method, const std::string& path) {
  if (path == "/api/pull" || path == "/api/push" || path == "/api/create"
      || path == "/api/copy" || path == "/api/delete")
    return method != "GET" && method != "HEAD";
  return path.rfind("/api/blobs/", 0) == 0;
}

/// The bearer token of an Authorization header; empty when there is none.
std::string bearer_token(const std::string& header) {
  const std::string scheme = "bearer ";
  if (header.size() <= scheme.size()
      || Poco::icompare(header, 0, scheme.size(), scheme) != 0)
    return {};
  return trim(std::string_view{header}.substr(scheme.size()));
}

} // namespace

bool caller::owns(const std::string& job_client) const {
  // Only keyed callers are not admins, so a non-admin has an identity.
  return admin || job_client == identity || job_client.rfind(identity + "/", 0) == 0;
}

route_access access_of(const std::string& method, const std::string& path) {
  // The dashboard's page and assets hold no data; the page asks for a key.
  if (path == "/healthz" || path == "/ui" || path.rfind("/ui/", 0) == 0)
    return route_access::open;
  if (path == "/metrics" || is_model_management(method, path))
    return route_access::admin;
  return route_access::client;
}

std::string key_identity(const std::string& secret) {
  Poco::SHA2Engine sha256{Poco::SHA2Engine::SHA_256};
  sha256.update(secret);
  // 48 bits tell a team's keys apart and give nothing of the key away.
  return "key-" + Poco::DigestEngine::digestToHex(sha256.digest()).substr(0, 12);
}

std::variant<caller, auth_refusal> authenticate(const http_request& req,
                                                const std::vector<api_key>& keys) {
  auto client_header = req.header("X-Foreman-Client");
  if (client_header.size() > max_client_header_length
      || std::any_of(client_header.begin(), client_header.end(), [](char c) {
           return static_cast<unsigned char>(c) < 0x20 || c == 0x7f;
         }))
    return auth_refusal{400, "invalid X-Foreman-Client header: expected at most "
                               + std::to_string(max_client_header_length)
                               + " printable characters"};
  auto access = access_of(req.method, req.path);
  if (keys.empty() || access == route_access::open)
    return caller{keys.empty(), client_header, {}};
  auto authorization = req.header("Authorization");
  auto token = bearer_token(authorization);
  if (token.empty())
    return auth_refusal{401, authorization.empty()
                               ? "unauthorized: send Authorization: Bearer <key>"
                               : "unauthorized: the Authorization header is not "
                                 "`Bearer <key>`"};
  auto key = find_api_key(keys, token);
  if (!key)
    return auth_refusal{401, "unauthorized: unknown API key"};
  caller who;
  who.admin = key->scope == key_scope::admin;
  who.identity = key_identity(key->secret);
  who.client = client_header.empty() ? who.identity
                                     : who.identity + "/" + client_header;
  if (access == route_access::admin && !who.admin)
    return auth_refusal{403, "forbidden: " + req.path + " needs an admin key"};
  return who;
}

} // namespace foreman::net
