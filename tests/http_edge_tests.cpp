#define BOOST_TEST_MODULE http_edge_tests
#include <boost/test/unit_test.hpp>

// The HTTP edge against hostile and broken requests, over raw sockets on
// loopback: every bad request gets a clear status at once (or within the
// read timeout), nothing is stored, and legitimate jobs beside it still
// complete. Also keep-alive and pipelining, which the event-driven edge
// serves without a thread per connection.

#include <chrono>
#include <string>

#include <Poco/Exception.h>
#include <Poco/Net/SocketAddress.h>
#include <Poco/Net/StreamSocket.h>

#include "service_fixture.hpp"

using namespace foreman_test;

namespace {

constexpr int64_t body_limit = 64 * 1024;
constexpr int64_t read_timeout_ms = 700;

/// A raw connection to foreman: the test writes exactly the bytes it wants.
class raw_connection {
public:
  explicit raw_connection(const std::string& base) {
    auto port = static_cast<uint16_t>(std::stoi(base.substr(base.rfind(':') + 1)));
    socket_.connect(Poco::Net::SocketAddress{"127.0.0.1", port});
    socket_.setReceiveTimeout(Poco::Timespan{10, 0});
  }

  void send(const std::string& bytes) {
    socket_.sendBytes(bytes.data(), static_cast<int>(bytes.size()));
  }

  /// Tries to send `bytes`; false once foreman has closed the connection.
  bool try_send(const std::string& bytes) {
    try {
      send(bytes);
      return true;
    } catch (const Poco::Exception&) {
      return false;
    }
  }

  void finish_sending() {
    socket_.shutdownSend();
  }

  /// Reads until `complete` holds for what arrived, the peer closes, or the
  /// receive timeout passes.
  template <class Complete>
  std::string read_until(Complete complete) {
    std::string got;
    char buffer[8192];
    try {
      while (!complete(got)) {
        auto n = socket_.receiveBytes(buffer, sizeof buffer);
        if (n <= 0)
          break;
        got.append(buffer, static_cast<size_t>(n));
      }
    } catch (const Poco::Exception&) {
      // Timed out or reset: the caller checks what arrived.
    }
    return got;
  }

  /// One whole response (with a Content-Length body).
  std::string read_response() {
    return read_until([](const std::string& got) { return response_complete(got); });
  }

  static bool response_complete(const std::string& got) {
    auto head_end = got.find("\r\n\r\n");
    if (head_end == std::string::npos)
      return false;
    auto length_at = got.find("Content-Length: ");
    if (length_at == std::string::npos || length_at > head_end)
      return true;
    auto length = std::stoul(got.substr(length_at + 16));
    return got.size() >= head_end + 4 + length;
  }

private:
  Poco::Net::StreamSocket socket_;
};

int status_of(const std::string& response) {
  if (response.rfind("HTTP/1.1 ", 0) != 0)
    return 0;
  return std::stoi(response.substr(9, 3));
}

std::string chat(const std::string& message) {
  return chat_body("llama3.2", message);
}

std::string post_head(const std::string& path, const std::string& framing) {
  return "POST " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n"
         + "Content-Type: application/json\r\n" + framing + "\r\n";
}

std::string chunk(const std::string& data) {
  char size[32];
  std::snprintf(size, sizeof size, "%zx\r\n", data.size());
  return size + data + "\r\n";
}

struct edge_fixture : service_fixture {
  edge_fixture()
    : service_fixture{{"--token-ms", "1"}, [](foreman::settings& s) {
                        s.max_body_bytes = body_limit;
                        s.read_timeout_ms = read_timeout_ms;
                      }} {
  }

  /// Nothing was stored: the job listing is empty.
  bool nothing_stored() {
    auto list = http_request("GET", base + "/jobs");
    return list.status == 200 && list.body.find("\"jobs\":[]") != std::string::npos;
  }

  /// A legitimate job beside the hostile ones is stored and answered.
  bool legitimate_job_completes(const std::string& message) {
    auto res = post("/api/chat", chat(message));
    return res.status == 200
           && parse_json(res.body)->getObject("message")->getValue<std::string>("content")
                == "llama3.2 says: " + message;
  }
};

} // namespace

BOOST_FIXTURE_TEST_SUITE(http_edge, edge_fixture)

BOOST_AUTO_TEST_CASE(a_declared_body_over_the_limit_gets_413_before_it_is_sent) {
  raw_connection c{base};
  // Only the head is sent: the answer must not wait for a body.
  c.send(post_head("/api/chat", "Content-Length: " + std::to_string(body_limit + 1)
                                  + "\r\n"));
  auto response = c.read_response();
  BOOST_TEST(status_of(response) == 413, response);
  BOOST_TEST(response.find("FOREMAN_MAX_BODY") != std::string::npos, response);
  BOOST_TEST(nothing_stored());
  BOOST_TEST(legitimate_job_completes("after 413"));
}

BOOST_AUTO_TEST_CASE(a_chunked_body_gets_413_as_soon_as_it_passes_the_limit) {
  raw_connection c{base};
  c.send(post_head("/api/chat", "Transfer-Encoding: chunked\r\n"));
  std::string piece(8192, 'x');
  // Just past the limit, and no last chunk: foreman answers without
  // waiting for the rest.
  for (int64_t sent = 0; sent <= body_limit && c.try_send(chunk(piece));)
    sent += static_cast<int64_t>(piece.size());
  auto response = c.read_response();
  BOOST_TEST(status_of(response) == 413, response);
  BOOST_TEST(nothing_stored());
  BOOST_TEST(legitimate_job_completes("after a chunked 413"));
}

BOOST_AUTO_TEST_CASE(unknown_methods_get_501_and_unrouted_ones_405) {
  for (auto method : {"BREW", "PROPFIND", "FOO"}) {
    raw_connection c{base};
    c.send(std::string{method} + " /api/chat HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    auto response = c.read_response();
    BOOST_TEST(status_of(response) == 501, method << ": " << response);
  }
  for (auto request : {"TRACE / HTTP/1.1\r\n", "CONNECT 127.0.0.1:443 HTTP/1.1\r\n",
                       "PUT /api/chat HTTP/1.1\r\n", "DELETE /api/tags HTTP/1.1\r\n",
                       "GET /api/chat HTTP/1.1\r\n"}) {
    raw_connection c{base};
    c.send(std::string{request} + "Host: 127.0.0.1\r\n\r\n");
    auto response = c.read_response();
    BOOST_TEST(status_of(response) == 405, request << response);
  }
  BOOST_TEST(nothing_stored());
  BOOST_TEST(legitimate_job_completes("after bad methods"));
}

BOOST_AUTO_TEST_CASE(a_body_shorter_than_its_content_length_is_refused) {
  auto body = chat("short body");
  {
    // The client sends less and closes its side: 400, nothing stored.
    raw_connection c{base};
    c.send(post_head("/api/chat", "Content-Length: " + std::to_string(body.size() + 50)
                                    + "\r\n")
           + body);
    c.finish_sending();
    auto response = c.read_response();
    BOOST_TEST(status_of(response) == 400, response);
    BOOST_TEST(response.find("Content-Length") != std::string::npos, response);
  }
  {
    // The client sends less and waits: 408 once the read timeout passes.
    raw_connection c{base};
    c.send(post_head("/api/chat", "Content-Length: " + std::to_string(body.size() + 50)
                                    + "\r\n")
           + body);
    auto response = c.read_response();
    BOOST_TEST(status_of(response) == 408, response);
  }
  BOOST_TEST(nothing_stored());
  BOOST_TEST(legitimate_job_completes("after a short body"));
}

BOOST_AUTO_TEST_CASE(a_chunked_body_without_its_last_chunk_is_refused) {
  auto body = chat("chunked but unfinished");
  {
    raw_connection c{base};
    c.send(post_head("/api/chat", "Transfer-Encoding: chunked\r\n") + chunk(body));
    c.finish_sending();
    auto response = c.read_response();
    BOOST_TEST(status_of(response) == 400, response);
    BOOST_TEST(response.find("last chunk") != std::string::npos, response);
  }
  {
    raw_connection c{base};
    c.send(post_head("/api/chat", "Transfer-Encoding: chunked\r\n") + chunk(body));
    auto response = c.read_response();
    BOOST_TEST(status_of(response) == 408, response);
  }
  BOOST_TEST(nothing_stored());
  // The same body, properly ended, is a job like any other.
  raw_connection c{base};
  c.send(post_head("/api/chat", "Transfer-Encoding: chunked\r\n") + chunk(body)
         + "0\r\n\r\n");
  auto response = c.read_response();
  BOOST_TEST(status_of(response) == 200, response);
  BOOST_TEST(response.find("llama3.2 says: chunked but unfinished") != std::string::npos,
             response);
}

BOOST_AUTO_TEST_CASE(a_client_that_stops_mid_head_gets_408) {
  raw_connection c{base};
  c.send("POST /api/chat HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Le");
  auto response = c.read_response();
  BOOST_TEST(status_of(response) == 408, response);
  BOOST_TEST(nothing_stored());
}

BOOST_AUTO_TEST_CASE(garbage_gets_400) {
  raw_connection c{base};
  c.send("this is not http\r\n\r\n");
  auto response = c.read_response();
  BOOST_TEST(status_of(response) == 400, response);
  BOOST_TEST(nothing_stored());
  BOOST_TEST(legitimate_job_completes("after garbage"));
}

BOOST_AUTO_TEST_CASE(one_connection_serves_requests_one_after_another_and_pipelined) {
  raw_connection c{base};
  auto request = [](const std::string& message) {
    auto body = chat(message);
    return post_head("/api/chat", "Content-Length: " + std::to_string(body.size()) + "\r\n")
           + body;
  };
  c.send(request("first"));
  auto first = c.read_response();
  BOOST_TEST(status_of(first) == 200, first);
  BOOST_TEST(first.find("llama3.2 says: first") != std::string::npos);
  // Two requests in one write: answered in order on the same connection.
  c.send(request("second") + request("third"));
  auto both = c.read_until([](const std::string& got) {
    auto second_response = got.find("HTTP/1.1", 1);
    return second_response != std::string::npos && raw_connection::response_complete(got)
           && raw_connection::response_complete(got.substr(second_response));
  });
  auto second_at = both.find("llama3.2 says: second");
  auto third_at = both.find("llama3.2 says: third");
  BOOST_TEST(second_at != std::string::npos, both);
  BOOST_TEST(third_at != std::string::npos, both);
  BOOST_TEST(second_at < third_at);
}

BOOST_AUTO_TEST_CASE(expect_continue_gets_100_then_the_answer) {
  raw_connection c{base};
  auto body = chat("expecting");
  c.send(post_head("/api/chat", "Content-Length: " + std::to_string(body.size())
                                  + "\r\nExpect: 100-continue\r\n"));
  auto interim = c.read_until([](const std::string& got) {
    return got.find("\r\n\r\n") != std::string::npos;
  });
  BOOST_TEST(status_of(interim) == 100, interim);
  c.send(body);
  auto response = c.read_response();
  BOOST_TEST(status_of(response) == 200, response);
}

BOOST_AUTO_TEST_SUITE_END()
