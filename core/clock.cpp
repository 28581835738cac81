#include "core/clock.hpp"

namespace foreman {

namespace {

class system_clock_impl final : public time_source {
public:
  int64_t wall_ms() const override {
    return now_unix_ms();
  }

  int64_t steady_ms() const override {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
  }
};

} // namespace

std::shared_ptr<const time_source> system_clock() {
  static const auto instance = std::make_shared<const system_clock_impl>();
  return instance;
}

} // namespace foreman
