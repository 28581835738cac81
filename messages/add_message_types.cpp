#include "messages/add_message_types.hpp"

#include <caf/actor_system_config.hpp>

#include "messages/errors.hpp"
#include "messages/interfaces.hpp"

namespace foreman {

std::string to_string(foreman_errc code) {
  switch (code) {
    case foreman_errc::job_not_found:
      return "job_not_found";
    case foreman_errc::invalid_transition:
      return "invalid_transition";
    case foreman_errc::store_failure:
      return "store_failure";
    case foreman_errc::target_unreachable:
      return "target_unreachable";
    case foreman_errc::shutting_down:
      return "shutting_down";
    case foreman_errc::queue_full:
      return "queue_full";
  }
  return "unknown";
}

std::string describe(const caf::error& err) {
  if (err.category() == foreman_error_category
      && err.context().match_elements<std::string>())
    return err.context().get_as<std::string>(0);
  return caf::to_string(err);
}

void add_message_types(caf::actor_system_config& cfg) {
  cfg.add_message_types<caf::id_block::foreman>();
  cfg.add_message_types<caf::id_block::foreman_handles>();
  cfg.add_error_category(foreman_error_category,
                         [](uint8_t code, caf::atom_value,
                            const caf::message& context) {
                           auto text = to_string(static_cast<foreman_errc>(code));
                           if (context.match_elements<std::string>())
                             text += ": " + context.get_as<std::string>(0);
                           return text;
                         });
}

} // namespace foreman
