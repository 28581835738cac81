#include "http_response_reader.hpp"

#include <algorithm>
#include <cctype>
#include <cstdlib>

namespace foreman_loadgen {

namespace {

// A bound on what a server may send before the body, so that garbage
// cannot grow the buffer without end.
constexpr std::size_t max_head_size = 64 * 1024;

bool iequals(const std::string& a, const std::string& b) {
  return a.size() == b.size()
         && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
              return std::tolower(static_cast<unsigned char>(x))
                     == std::tolower(static_cast<unsigned char>(y));
            });
}

std::string lowercase(std::string text) {
  for (auto& c : text)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

std::string trimmed(const std::string& text) {
  const auto first = text.find_first_not_of(" \t");
  if (first == std::string::npos)
    return {};
  const auto last = text.find_last_not_of(" \t");
  return text.substr(first, last - first + 1);
}

/// Parses digits in `base` covering all of `text`; false when there are none
/// or something else follows.
bool parse_size(const std::string& text, int base, std::size_t& value) {
  if (text.empty())
    return false;
  char* end = nullptr;
  const auto parsed = std::strtoull(text.c_str(), &end, base);
  if (end != text.c_str() + text.size() || !std::isxdigit(static_cast<unsigned char>(text[0])))
    return false;
  value = static_cast<std::size_t>(parsed);
  return true;
}

} // namespace

http_response_reader::progress http_response_reader::feed(const char* data,
                                                          std::size_t size) {
  if (phase_ == phase::done || phase_ == phase::failed)
    return current();
  unread_.append(data, size);
  return parse();
}

http_response_reader::progress http_response_reader::connection_closed() {
  if (phase_ == phase::body_until_close)
    phase_ = phase::done;
  if (phase_ != phase::done && phase_ != phase::failed)
    return fail("the connection closed before the response was complete");
  return current();
}

http_response_reader::progress http_response_reader::current() const {
  switch (phase_) {
    case phase::done:
      return progress::complete;
    case phase::failed:
      return progress::malformed;
    default:
      return progress::incomplete;
  }
}

http_response_reader::progress http_response_reader::fail(std::string why) {
  phase_ = phase::failed;
  error_ = std::move(why);
  return progress::malformed;
}

bool http_response_reader::parse_headers(const std::string& head) {
  // "HTTP/1.1 200 OK"
  const auto line_end = head.find("\r\n");
  const auto status_line = head.substr(0, line_end);
  if (status_line.compare(0, 7, "HTTP/1.") != 0 || status_line.size() < 12
      || status_line[8] != ' ')
    return false;
  std::size_t status = 0;
  if (!parse_size(status_line.substr(9, 3), 10, status) || status < 100 || status > 999)
    return false;
  status_ = static_cast<int>(status);

  bool chunked = false;
  bool sized = false;
  std::size_t content_length = 0;
  for (auto start = line_end == std::string::npos ? head.size() : line_end + 2;
       start < head.size();) {
    auto end = head.find("\r\n", start);
    if (end == std::string::npos)
      end = head.size();
    const auto line = head.substr(start, end - start);
    start = end + 2;
    const auto colon = line.find(':');
    if (colon == std::string::npos)
      return false;
    const auto name = line.substr(0, colon);
    const auto value = trimmed(line.substr(colon + 1));
    if (iequals(name, "Content-Length")) {
      if (!parse_size(value, 10, content_length))
        return false;
      sized = true;
    } else if (iequals(name, "Transfer-Encoding")) {
      chunked = lowercase(value).find("chunked") != std::string::npos;
    }
  }

  body_.clear();
  if (status_ < 200) // an interim response; the real one follows
    phase_ = phase::headers;
  else if (status_ == 204 || status_ == 304)
    phase_ = phase::done;
  else if (chunked) // it wins over Content-Length (RFC 9112, 6.3)
    phase_ = phase::chunk_size_line;
  else if (sized) {
    remaining_ = content_length;
    phase_ = remaining_ == 0 ? phase::done : phase::sized_body;
  } else
    phase_ = phase::body_until_close;
  return true;
}

http_response_reader::progress http_response_reader::parse() {
  std::size_t at = 0; // parsed bytes of unread_
  auto take_line = [&](std::string& line) {
    const auto end = unread_.find("\r\n", at);
    if (end == std::string::npos)
      return false;
    line = unread_.substr(at, end - at);
    at = end + 2;
    return true;
  };
  auto take_body = [&](std::size_t limit) {
    const auto n = std::min(limit, unread_.size() - at);
    body_.append(unread_, at, n);
    at += n;
    return n;
  };

  for (bool moved = true; moved && phase_ != phase::done && phase_ != phase::failed;) {
    moved = false;
    std::string line;
    switch (phase_) {
      case phase::headers: {
        const auto end = unread_.find("\r\n\r\n", at);
        if (end == std::string::npos) {
          if (unread_.size() - at > max_head_size)
            return fail("the response head exceeds 64 KiB");
          break;
        }
        if (!parse_headers(unread_.substr(at, end + 2 - at)))
          return fail("malformed status line or header");
        at = end + 4;
        moved = true;
        break;
      }
      case phase::sized_body:
        remaining_ -= take_body(remaining_);
        if (remaining_ == 0) {
          phase_ = phase::done;
          moved = true;
        }
        break;
      case phase::chunk_size_line:
        if (!take_line(line)) {
          if (unread_.size() - at > max_head_size)
            return fail("a chunk size line exceeds 64 KiB");
          break;
        }
        if (!parse_size(trimmed(line.substr(0, line.find(';'))), 16, remaining_))
          return fail("malformed chunk size '" + line + "'");
        phase_ = remaining_ == 0 ? phase::trailers : phase::chunk_data;
        moved = true;
        break;
      case phase::chunk_data:
        remaining_ -= take_body(remaining_);
        if (remaining_ == 0) {
          phase_ = phase::chunk_data_end;
          moved = true;
        }
        break;
      case phase::chunk_data_end:
        if (unread_.size() - at < 2)
          break;
        if (unread_.compare(at, 2, "\r\n") != 0)
          return fail("a chunk does not end with CRLF");
        at += 2;
        phase_ = phase::chunk_size_line;
        moved = true;
        break;
      case phase::trailers:
        if (!take_line(line))
          break;
        if (line.empty())
          phase_ = phase::done;
        moved = true;
        break;
      case phase::body_until_close:
        take_body(unread_.size() - at);
        break;
      case phase::done:
      case phase::failed:
        break;
    }
  }
  unread_.erase(0, at);
  return current();
}

} // namespace foreman_loadgen
