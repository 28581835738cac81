#pragma once

// foreman's error codes, carried in caf::error with a human-readable context.

#include <cstdint>
#include <string>

#include <caf/error.hpp>
#include <caf/make_message.hpp>

namespace foreman {

enum class foreman_errc : uint8_t {
  job_not_found = 1,
  invalid_transition,
  store_failure,
  target_unreachable,
  shutting_down,
  /// FOREMAN_MAX_QUEUE jobs are queued already.
  queue_full,
};

/// The error category under which foreman_errc values travel.
constexpr caf::atom_value foreman_error_category = caf::atom("foreman");

inline caf::error make_error(foreman_errc code, std::string detail) {
  return caf::error{static_cast<uint8_t>(code), foreman_error_category,
                    caf::make_message(std::move(detail))};
}

std::string to_string(foreman_errc code);

/// True when `err` carries `code`.
inline bool has_code(const caf::error& err, foreman_errc code) {
  return err.category() == foreman_error_category
         && err.code() == static_cast<uint8_t>(code);
}

/// The detail text of an error made by make_error, or CAF's rendering of any
/// other error.
std::string describe(const caf::error& err);

} // namespace foreman
