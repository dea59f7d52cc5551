// SPDX-License-Identifier: Apache-2.0
// src/common/registry.hpp — the one name -> entry table behind every "by name" lookup: layers,
// losses, metrics, optimizers and their schedules, initializers, regularizers, constraints and
// activations. It sits below all of them (it needs nothing but the standard library) so that each
// family keeps its own table, filled from its own files, without a private map and mutex of its own.
#pragma once

#include <cstddef>
#include <initializer_list>
#include <map>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <utility>
#include <vector>

namespace lamina {

/// A thread-safe table of entries under names. Each entry has one listed name (what error
/// messages offer, in the order first added) and any number of aliases that find it too
/// ("mse" for MeanSquaredError). Entries are copied out, so a lookup stays valid while another
/// thread registers. Make a registry a function-local static: layers register from static
/// initializers of other files.
template <class Entry>
class Registry {
 public:
  /// One listing of the table: `name` under which `entry` was added, with its aliases.
  struct Item {
    Item(std::string name_, Entry entry_, std::vector<std::string> aliases_ = {})
        : name(std::move(name_)), entry(std::move(entry_)), aliases(std::move(aliases_)) {}
    std::string name;
    Entry entry;
    std::vector<std::string> aliases;
  };

  Registry() = default;
  /// The built-ins, listed in the order given.
  Registry(std::initializer_list<Item> items) {
    for (const Item& item : items) add_locked(item.name, item.entry, item.aliases);
  }
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  /// Registers `entry` under `name` and `aliases`, replacing the entry of a name already listed
  /// (it keeps its place in the listing).
  void add(const std::string& name, Entry entry, const std::vector<std::string>& aliases = {}) {
    std::unique_lock lock(mutex_);
    add_locked(name, std::move(entry), aliases);
  }
  /// Changes the entry listed under `name` in place (`change(entry&)`), adding a
  /// default-constructed one first when there is none; atomic against other registrations.
  template <class Change>
  void update(const std::string& name, Change&& change) {
    std::unique_lock lock(mutex_);
    auto it = index_.find(name);
    if (it == index_.end() || items_[it->second].name != name) {
      add_locked(name, Entry{}, {});
      it = index_.find(name);
    }
    change(items_[it->second].entry);
  }

  /// The entry under a listed name or an alias; nullopt when there is none.
  std::optional<Entry> find(const std::string& name) const {
    std::shared_lock lock(mutex_);
    const auto it = index_.find(name);
    if (it == index_.end()) return std::nullopt;
    return items_[it->second].entry;
  }
  /// The entry under a listed name only (aliases do not count).
  std::optional<Entry> find_listed(const std::string& name) const {
    std::shared_lock lock(mutex_);
    const auto it = index_.find(name);
    if (it == index_.end() || items_[it->second].name != name) return std::nullopt;
    return items_[it->second].entry;
  }
  /// The listed name that `name` (a listed name or an alias) stands for; empty when none.
  std::string resolve(const std::string& name) const {
    std::shared_lock lock(mutex_);
    const auto it = index_.find(name);
    return it == index_.end() ? std::string() : items_[it->second].name;
  }
  /// The listed names, in the order first added: what an error message offers.
  std::vector<std::string> names() const {
    std::shared_lock lock(mutex_);
    std::vector<std::string> out;
    for (const Item& item : items_) out.push_back(item.name);
    return out;
  }
  /// names() for a message: each in `quote`s, joined by `separator` ("'mse', 'mae'").
  std::string listing(const std::string& quote = "'", const std::string& separator = ", ") const {
    std::string out;
    for (const std::string& name : names()) out += (out.empty() ? "" : separator) + quote + name + quote;
    return out;
  }
  /// Every entry with its names, in the order first added.
  std::vector<Item> items() const {
    std::shared_lock lock(mutex_);
    return items_;
  }

 private:
  void add_locked(const std::string& name, Entry entry, const std::vector<std::string>& aliases) {
    std::size_t slot = items_.size();
    if (const auto it = index_.find(name); it != index_.end() && items_[it->second].name == name) {
      slot = it->second;
      items_[slot].entry = std::move(entry);
    } else {
      items_.push_back({name, std::move(entry), {}});
      index_[name] = slot;
    }
    for (const std::string& alias : aliases) {
      index_[alias] = slot;
      items_[slot].aliases.push_back(alias);
    }
  }

  mutable std::shared_mutex mutex_;
  std::vector<Item> items_;
  std::map<std::string, std::size_t> index_;  // listed names and aliases -> position in items_
};

}  // namespace lamina
