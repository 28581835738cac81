#pragma once

// Maps each HTTP request to its endpoint, after counting it and applying any
// armed fault.

#include "fake_server.hpp"

#include <Poco/Net/HTTPRequestHandlerFactory.h>

namespace fake_ollama {

class request_router : public Poco::Net::HTTPRequestHandlerFactory {
public:
  explicit request_router(fake_server& server) : server_(server) {
  }

  Poco::Net::HTTPRequestHandler*
  createRequestHandler(const Poco::Net::HTTPServerRequest& request) override;

private:
  fake_server& server_;
};

} // namespace fake_ollama
