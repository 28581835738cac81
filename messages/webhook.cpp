#include "messages/webhook.hpp"

#include "messages/enum_names.hpp"

namespace foreman {

namespace {

constexpr enum_names<delivery_outcome, 3> outcome_names{{
  {delivery_outcome::delivered, "delivered"},
  {delivery_outcome::retrying, "retrying"},
  {delivery_outcome::given_up, "given_up"},
}};

} // namespace

std::string to_string(delivery_outcome x) {
  return std::string{name_of(outcome_names, x)};
}

std::optional<delivery_outcome> parse_delivery_outcome(std::string_view text) {
  return value_of(outcome_names, text);
}

} // namespace foreman
