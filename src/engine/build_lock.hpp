// SPDX-License-Identifier: Apache-2.0
// src/engine/build_lock.hpp — models are built on their first call, and that call may come from
// several threads at once (concurrent predict on an unbuilt model): every check of "built?" and
// the build that follows run under one process-wide lock, so a model is built once. Re-entrant:
// building a model builds its layers and nested models.
#pragma once

#include <mutex>

namespace lamina::engine {

/// Held while checking whether a layer or model is built and building it.
std::unique_lock<std::recursive_mutex> lock_building();

}  // namespace lamina::engine
