#include "net/api_client.hpp"

#include <istream>
#include <utility>

#include <Poco/Exception.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/StreamCopier.h>

namespace foreman::net {

api_client::api_client(api_client_options options)
  : options_(std::move(options)),
    prefix_(options_.base.path_and_query.substr(
      0, options_.base.path_and_query.find_last_not_of('/') + 1)) {
}

api_response api_client::get(const std::string& path) const {
  return send(Poco::Net::HTTPRequest::HTTP_GET, path);
}

api_response api_client::del(const std::string& path) const {
  return send(Poco::Net::HTTPRequest::HTTP_DELETE, path);
}

api_response api_client::send(const std::string& method,
                              const std::string& path) const {
  try {
    Poco::Net::HTTPClientSession session{options_.base.host, options_.base.port};
    Poco::Timespan timeout{options_.timeout.count() * 1000};
    session.setTimeout(timeout, timeout, timeout);
    Poco::Net::HTTPRequest request{method, prefix_ + path,
                                   Poco::Net::HTTPMessage::HTTP_1_1};
    if (!options_.api_key.empty())
      request.setCredentials("Bearer", options_.api_key);
    session.sendRequest(request);
    Poco::Net::HTTPResponse response;
    auto& in = session.receiveResponse(response);
    // A connection that breaks mid-answer must not pass for a short body.
    in.exceptions(std::ios::badbit);
    api_response result;
    result.status = static_cast<int>(response.getStatus());
    Poco::StreamCopier::copyToString(in, result.body);
    return result;
  } catch (const Poco::Exception& e) {
    throw api_unreachable{e.displayText()};
  } catch (const std::ios_base::failure& e) {
    throw api_unreachable{e.what()};
  }
}

} // namespace foreman::net
