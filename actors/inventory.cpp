#include "actors/inventory.hpp"

#include <map>

#include <caf/actor_system.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "core/keep_alive.hpp"
#include "core/model_name.hpp"
#include "messages/errors.hpp"
#include "net/json_util.hpp"

namespace foreman {

namespace {

struct inventory_state {
  static inline const char* name = "inventory";
  inventory_config config;
  target_client_actor target;
  std::string embed_key;
  /// Resident model keys, each with the note number that last confirmed it.
  std::map<std::string, uint64_t> residents;
  /// Counts the worker's notes, so a poll answered after a note does not
  /// forget what the note said.
  uint64_t note_count = 0;
  bool poll_in_flight = false;
  bool warming = false;
  /// The last read of /api/ps succeeded; why not when it did not.
  bool target_reachable = false;
  std::string target_problem = "not checked yet";
};

using inventory_pointer = inventory_actor::stateful_pointer<inventory_state>;

void warm_embedder(inventory_pointer self) {
  auto& st = self->state;
  if (st.embed_key.empty() || st.warming)
    return;
  st.warming = true;
  st.config.log.info("inventory", "warming the embedder",
                     {{"model", st.config.embed_model}});
  target_request load;
  load.purpose = target_purpose::load;
  load.kind = job_kind::embed;
  load.payload = "{\"model\":" + net::json_quote(st.config.embed_model) + "}";
  load.keep_alive_json = keep_alive::forever().json();
  self->request(st.target, caf::infinite, call_atom_v, std::move(load),
                chunk_sink_actor{})
    .then([=](const target_reply& reply) {
      auto& st = self->state;
      st.warming = false;
      if (reply.failure == target_failure::none) {
        st.residents[st.embed_key] = ++st.note_count;
        st.config.log.info("inventory", "embedder pinned",
                           {{"model", st.config.embed_model}});
      } else {
        st.config.log.warning("inventory", "cannot warm the embedder",
                              {{"model", st.config.embed_model},
                               {"error", reply.body}});
      }
    });
}

void poll(inventory_pointer self) {
  auto& st = self->state;
  if (st.poll_in_flight)
    return;
  st.poll_in_flight = true;
  auto notes_before = st.note_count;
  self->request(st.target, caf::infinite, ps_atom_v)
    .then(
      [=](const std::vector<resident_model>& models) {
        auto& st = self->state;
        st.poll_in_flight = false;
        std::map<std::string, uint64_t> fresh;
        for (auto& [key, note] : st.residents)
          if (note > notes_before)
            fresh.emplace(key, note);
        for (auto& model : models)
          fresh.emplace(model.model_key, notes_before);
        st.residents = std::move(fresh);
        if (!st.target_reachable)
          st.config.log.info("inventory", "target reachable");
        st.target_reachable = true;
        st.target_problem.clear();
        if (!st.embed_key.empty() && st.residents.count(st.embed_key) == 0)
          warm_embedder(self);
      },
      [=](const caf::error& err) {
        auto& st = self->state;
        st.poll_in_flight = false;
        if (st.target_reachable)
          st.config.log.warning("inventory", "target unreachable",
                                {{"error", describe(err)}});
        st.target_reachable = false;
        st.target_problem = describe(err);
      });
}

inventory_actor::behavior_type
inventory(inventory_pointer self, target_client_actor target,
          inventory_config config) {
  auto& st = self->state;
  st.target = std::move(target);
  st.config = std::move(config);
  if (!st.config.embed_model.empty())
    st.embed_key = model_key(st.config.embed_model);
  self->send(self, warm_atom_v);
  self->send(self, poll_atom_v);
  return {
    [=](residents_atom) {
      std::vector<std::string> keys;
      for (auto& entry : self->state.residents)
        keys.push_back(entry.first);
      return keys;
    },
    [=](loaded_atom, const std::string& key) {
      auto& st = self->state;
      st.residents[key] = ++st.note_count;
    },
    [=](unloaded_atom, const std::string& key) {
      auto& st = self->state;
      ++st.note_count;
      st.residents.erase(key);
    },
    [=](poll_atom) {
      poll(self);
      self->delayed_send(self, self->state.config.poll_interval, poll_atom_v);
    },
    [=](warm_atom) { warm_embedder(self); },
    [=](health_atom) {
      auto& st = self->state;
      target_health health;
      health.reachable = st.target_reachable;
      health.problem = st.target_problem;
      health.embedder_pinned = st.embed_key.empty() || st.residents.count(st.embed_key) > 0;
      for (auto& entry : st.residents)
        health.residents.push_back(entry.first);
      return health;
    },
  };
}

} // namespace

inventory_actor spawn_inventory(caf::actor_system& sys, target_client_actor target,
                                inventory_config config) {
  return sys.spawn(inventory, std::move(target), std::move(config));
}

} // namespace foreman
