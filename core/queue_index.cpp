#include "core/queue_index.hpp"

#include <ext/pb_ds/assoc_container.hpp>
#include <ext/pb_ds/tree_policy.hpp>

#include <functional>
#include <map>
#include <set>
#include <tuple>

namespace foreman {

namespace {

/// Priority-and-turn order: higher priority first, then earlier turn, then
/// the older job (smaller id).
using order_key = std::tuple<int64_t, int64_t, int64_t>;

order_key key_of(int32_t priority, int64_t turn, int64_t id) {
  return {-static_cast<int64_t>(priority), turn, id};
}

int32_t priority_of(const order_key& k) {
  return static_cast<int32_t>(-std::get<0>(k));
}

/// A balanced tree that also counts the keys below any key in O(log n).
using counted_tree
  = __gnu_pbds::tree<order_key, __gnu_pbds::null_type, std::less<order_key>,
                     __gnu_pbds::rb_tree_tag,
                     __gnu_pbds::tree_order_statistics_node_update>;

struct group_queue {
  std::string model_key;
  counted_tree jobs;
};

struct entry {
  int64_t created_at_ms = 0;
  int64_t not_before_ms = 0;
  int32_t priority = 0;
  int64_t turn = 0;
  std::map<std::string, group_queue>::iterator group;
};

} // namespace

struct queue_index::impl {
  /// Every queued job by id, so ascending ids are the age order.
  std::map<int64_t, entry> by_id;
  std::map<std::string, group_queue> groups;
  /// (not_before, id) of the jobs that were given a backoff.
  std::set<std::pair<int64_t, int64_t>> backoffs;

  bool backing_off(const entry& e, int64_t due_now_ms) const {
    return e.not_before_ms > due_now_ms;
  }

  /// The first key of `g` whose job may run now; skips the (few) jobs still
  /// backing off.
  const order_key* first_eligible(const group_queue& g, int64_t due_now_ms) const {
    for (auto& k : g.jobs)
      if (!backing_off(by_id.at(std::get<2>(k)), due_now_ms))
        return &k;
    return nullptr;
  }

  queued_job facts(const order_key& k, const std::string& group_key) const {
    auto& e = by_id.at(std::get<2>(k));
    return queued_job{std::get<2>(k), group_key, e.priority, e.turn,
                      e.created_at_ms, e.not_before_ms};
  }
};

queue_index::queue_index() : impl_(std::make_unique<impl>()) {
}

queue_index::~queue_index() = default;
queue_index::queue_index(queue_index&&) noexcept = default;
queue_index& queue_index::operator=(queue_index&&) noexcept = default;

void queue_index::add(const queued_job& x) {
  remove(x.id);
  auto group = impl_->groups.find(x.group_key);
  if (group == impl_->groups.end())
    group = impl_->groups.emplace(x.group_key, group_queue{model_of_group(x.group_key), {}})
              .first;
  group->second.jobs.insert(key_of(x.priority, x.turn, x.id));
  impl_->by_id.emplace(x.id, entry{x.created_at_ms, x.not_before_ms, x.priority,
                                   x.turn, group});
  if (x.not_before_ms > 0)
    impl_->backoffs.emplace(x.not_before_ms, x.id);
}

bool queue_index::remove(int64_t id) {
  auto i = impl_->by_id.find(id);
  if (i == impl_->by_id.end())
    return false;
  auto& e = i->second;
  e.group->second.jobs.erase(key_of(e.priority, e.turn, id));
  if (e.group->second.jobs.empty())
    impl_->groups.erase(e.group);
  if (e.not_before_ms > 0)
    impl_->backoffs.erase({e.not_before_ms, id});
  impl_->by_id.erase(i);
  return true;
}

bool queue_index::contains(int64_t id) const {
  return impl_->by_id.count(id) != 0;
}

int64_t queue_index::size() const {
  return static_cast<int64_t>(impl_->by_id.size());
}

std::optional<queued_job>
queue_index::pick(const std::vector<std::string>& resident_group_keys,
                  int64_t wall_now_ms, int64_t due_now_ms,
                  const scheduling_rules& rules) const {
  auto& st = *impl_;
  if (rules.max_wait_ms > 0)
    for (auto& [id, e] : st.by_id) {
      if (st.backing_off(e, due_now_ms))
        continue;
      if (wall_now_ms - e.created_at_ms >= rules.max_wait_ms)
        return st.facts(key_of(e.priority, e.turn, id), e.group->first);
      break;
    }
  // The head of each group; the best of them at the top priority.
  const order_key* best_any = nullptr;
  const std::string* best_any_group = nullptr;
  for (auto& [group_key, g] : st.groups)
    if (auto head = st.first_eligible(g, due_now_ms);
        head != nullptr && (best_any == nullptr || *head < *best_any)) {
      best_any = head;
      best_any_group = &group_key;
    }
  if (best_any == nullptr)
    return std::nullopt;
  if (rules.drain_by_model) {
    auto top_priority = priority_of(*best_any);
    const order_key* best_resident = nullptr;
    const std::string* best_resident_group = nullptr;
    for (auto& group_key : resident_group_keys) {
      auto g = st.groups.find(group_key);
      if (g == st.groups.end())
        continue;
      auto head = st.first_eligible(g->second, due_now_ms);
      if (head != nullptr && priority_of(*head) == top_priority
          && (best_resident == nullptr || *head < *best_resident)) {
        best_resident = head;
        best_resident_group = &g->first;
      }
    }
    if (best_resident != nullptr)
      return st.facts(*best_resident, *best_resident_group);
  }
  return st.facts(*best_any, *best_any_group);
}

int64_t queue_index::next_retry_at(int64_t due_now_ms) const {
  auto i = impl_->backoffs.upper_bound({due_now_ms, INT64_MAX});
  return i == impl_->backoffs.end() ? 0 : i->first;
}

queue_ahead queue_index::ahead_of(const queued_job& x) const {
  std::map<std::string, int64_t> counts;
  auto key = key_of(x.priority, x.turn, x.id);
  for (auto& [group_key, g] : impl_->groups)
    if (auto n = static_cast<int64_t>(g.jobs.order_of_key(key)); n > 0)
      counts[g.model_key] += n;
  queue_ahead ahead;
  for (auto& [model, n] : counts) {
    ahead.by_model.emplace_back(model, n);
    ahead.position += n;
  }
  return ahead;
}

queued_job queued_facts(const job& x) {
  return queued_job{x.id, x.group_key, x.priority, x.turn, x.created_at_ms,
                    x.not_before_ms};
}

std::string model_of_group(const std::string& group_key) {
  return group_key.substr(0, group_key.find('|'));
}

} // namespace foreman
