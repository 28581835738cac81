#pragma once

// Writing replies the way Ollama does, and reading request bodies with
// Ollama's error texts.

#include <Poco/Dynamic/Var.h>
#include <Poco/JSON/Object.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>

#include <chrono>
#include <optional>
#include <stdexcept>
#include <string>

namespace fake_ollama {

/// A failure answered as `{"error": what()}` with `status`.
class api_error : public std::runtime_error {
public:
  api_error(int status, const std::string& message)
    : std::runtime_error(message), status_(status) {
  }
  int status() const {
    return status_;
  }

private:
  int status_;
};

void send_json(Poco::Net::HTTPServerResponse& response, int status,
               const Poco::JSON::Object::Ptr& body);
void send_error(Poco::Net::HTTPServerResponse& response, int status,
                const std::string& message);
void send_text(Poco::Net::HTTPServerResponse& response, int status,
               const std::string& text);
/// A status with an empty body and no Content-Type (gin's c.Status()).
void send_empty(Poco::Net::HTTPServerResponse& response, int status);

/// Drops the connection with a TCP reset and no response at all.
void abort_connection(Poco::Net::HTTPServerRequest& request,
                      Poco::Net::HTTPServerResponse& response);

/// True once the client has closed its end (or the server shut it down).
/// Waits up to `poll_time` for something to happen on the socket.
bool client_gone(Poco::Net::HTTPServerRequest& request,
                 std::chrono::milliseconds poll_time);

/// Parses a JSON object body; 400 with "missing request body" or the
/// parser's message otherwise. `go_type` names the request type in the
/// "cannot unmarshal" text, e.g. "api.ChatRequest".
Poco::JSON::Object::Ptr parse_request_body(const std::string& body,
                                           const std::string& go_type);

/// Reads an optional field of the given JSON kind; absent and null give
/// nullopt, a wrong type is a 400 naming the field like Go's decoder does.
std::optional<std::string> string_field(const Poco::JSON::Object::Ptr& request,
                                        const std::string& key,
                                        const std::string& go_type);
std::optional<bool> bool_field(const Poco::JSON::Object::Ptr& request,
                               const std::string& key,
                               const std::string& go_type);

/// The JSON kind of a parsed value as Go's decoder names it ("object",
/// "array", "bool", "string", "number").
std::string json_kind(const Poco::Dynamic::Var& value);

/// Go's %q quoting for the ASCII case: "name" with \" and \\ escaped.
std::string go_quoted(const std::string& text);

} // namespace fake_ollama
