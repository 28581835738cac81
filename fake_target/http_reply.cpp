#include "http_reply.hpp"

#include "wire_format.hpp"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Parser.h>
#include <Poco/Net/HTTPServerRequestImpl.h>
#include <Poco/Net/StreamSocket.h>

#include <sys/socket.h>

namespace fake_ollama {

std::string json_kind(const Poco::Dynamic::Var& value) {
  if (value.type() == typeid(Poco::JSON::Object::Ptr))
    return "object";
  if (value.type() == typeid(Poco::JSON::Array::Ptr))
    return "array";
  if (value.isBoolean())
    return "bool";
  if (value.isString())
    return "string";
  return "number";
}

namespace {

api_error wrong_type(const Poco::Dynamic::Var& value, const std::string& key,
                     const std::string& go_type, const std::string& wanted) {
  const auto dot = go_type.find('.');
  const auto struct_name
    = dot == std::string::npos ? go_type : go_type.substr(dot + 1);
  return api_error(400, "json: cannot unmarshal " + json_kind(value)
                          + " into Go struct field " + struct_name + "." + key
                          + " of type " + wanted);
}

} // namespace

void send_json(Poco::Net::HTTPServerResponse& response, int status,
               const Poco::JSON::Object::Ptr& body) {
  const auto text = to_json(body);
  response.setStatusAndReason(static_cast<Poco::Net::HTTPResponse::HTTPStatus>(status));
  response.setContentType("application/json; charset=utf-8");
  response.sendBuffer(text.data(), text.size());
}

void send_error(Poco::Net::HTTPServerResponse& response, int status,
                const std::string& message) {
  auto body = ordered_object();
  body->set("error", message);
  send_json(response, status, body);
}

void send_text(Poco::Net::HTTPServerResponse& response, int status,
               const std::string& text) {
  response.setStatusAndReason(static_cast<Poco::Net::HTTPResponse::HTTPStatus>(status));
  response.setContentType("text/plain; charset=utf-8");
  response.sendBuffer(text.data(), text.size());
}

void send_empty(Poco::Net::HTTPServerResponse& response, int status) {
  response.setStatusAndReason(static_cast<Poco::Net::HTTPResponse::HTTPStatus>(status));
  static const char nothing = '\0';
  response.sendBuffer(&nothing, 0);
}

void abort_connection(Poco::Net::HTTPServerRequest& request,
                      Poco::Net::HTTPServerResponse& response) {
  // Poco must not try to reuse the connection once the socket is gone.
  response.setKeepAlive(false);
  auto& socket = static_cast<Poco::Net::HTTPServerRequestImpl&>(request).socket();
  try {
    socket.setLinger(true, 0); // close() then sends RST instead of FIN
    socket.close();
  } catch (const Poco::Exception&) {
    // Already closed by the client or by a server stop: nothing to abort.
  }
}

bool client_gone(Poco::Net::HTTPServerRequest& request,
                 std::chrono::milliseconds poll_time) {
  auto& socket = static_cast<Poco::Net::HTTPServerRequestImpl&>(request).socket();
  try {
    const Poco::Timespan timeout(static_cast<long>(poll_time.count() / 1000),
                                 static_cast<long>(poll_time.count() % 1000) * 1000);
    if (!socket.poll(timeout, Poco::Net::Socket::SELECT_READ
                                | Poco::Net::Socket::SELECT_ERROR))
      return false;
    char byte;
    return socket.receiveBytes(&byte, 1, MSG_PEEK) <= 0;
  } catch (const Poco::Exception&) {
    return true;
  }
}

Poco::JSON::Object::Ptr parse_request_body(const std::string& body,
                                           const std::string& go_type) {
  if (body.empty())
    throw api_error(400, "missing request body");
  Poco::Dynamic::Var parsed;
  try {
    Poco::JSON::Parser parser;
    parsed = parser.parse(body);
  } catch (const Poco::Exception& error) {
    throw api_error(400, error.displayText());
  }
  if (parsed.type() != typeid(Poco::JSON::Object::Ptr))
    throw api_error(400, "json: cannot unmarshal " + json_kind(parsed)
                           + " into Go value of type " + go_type);
  return parsed.extract<Poco::JSON::Object::Ptr>();
}

std::optional<std::string> string_field(const Poco::JSON::Object::Ptr& request,
                                        const std::string& key,
                                        const std::string& go_type) {
  const auto value = request->get(key);
  if (value.isEmpty())
    return std::nullopt;
  if (!value.isString())
    throw wrong_type(value, key, go_type, "string");
  return value.extract<std::string>();
}

std::optional<bool> bool_field(const Poco::JSON::Object::Ptr& request,
                               const std::string& key, const std::string& go_type) {
  const auto value = request->get(key);
  if (value.isEmpty())
    return std::nullopt;
  if (!value.isBoolean())
    throw wrong_type(value, key, go_type, "bool");
  return value.extract<bool>();
}

std::string go_quoted(const std::string& text) {
  std::string quoted = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\')
      quoted += '\\';
    quoted += c;
  }
  return quoted + "\"";
}

} // namespace fake_ollama
