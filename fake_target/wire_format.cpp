#include "wire_format.hpp"

#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <sstream>

namespace fake_ollama {

wall_time wall_now() {
  return std::chrono::time_point_cast<std::chrono::microseconds>(
    std::chrono::system_clock::now());
}

std::string format_rfc3339(wall_time instant, bool local_zone) {
  const auto since_epoch = instant.time_since_epoch();
  auto seconds = std::chrono::duration_cast<std::chrono::seconds>(since_epoch);
  auto micros = (since_epoch - seconds).count();
  if (micros < 0) {
    micros += 1000000;
    seconds -= std::chrono::seconds{1};
  }
  const std::time_t time = static_cast<std::time_t>(seconds.count());
  std::tm parts{};
  if (local_zone)
    localtime_r(&time, &parts);
  else
    gmtime_r(&time, &parts);
  char text[64];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S", &parts);
  std::string result = text;
  if (micros != 0) {
    char fraction[24];
    std::snprintf(fraction, sizeof fraction, "%06ld", static_cast<long>(micros));
    std::string digits = fraction;
    digits.erase(digits.find_last_not_of('0') + 1);
    result += "." + digits;
  }
  const long offset = local_zone ? parts.tm_gmtoff : 0;
  if (offset == 0)
    return result + "Z";
  const long minutes = std::labs(offset) / 60;
  std::snprintf(text, sizeof text, "%c%02ld:%02ld", offset < 0 ? '-' : '+',
                minutes / 60, minutes % 60);
  return result + text;
}

Poco::JSON::Object::Ptr ordered_object() {
  return new Poco::JSON::Object(Poco::JSON_PRESERVE_KEY_ORDER);
}

std::string to_json(const Poco::JSON::Object::Ptr& object) {
  std::ostringstream out;
  object->stringify(out);
  return out.str();
}

} // namespace fake_ollama
