// SPDX-License-Identifier: Apache-2.0
// src/engine/build_lock.hpp — models are built on their first call, and that call may come from
// several threads at once (concurrent predict on an unbuilt model): the build runs under one
// process-wide lock and checks "built?" again there, so a model is built once; a built layer
// (Layer::built_ is atomic and set last) is called without the lock. Re-entrant: building a
// model builds its layers and nested models.
#pragma once

#include <mutex>

namespace lamina::engine {

/// Held while building a layer or model (and re-checking that no other thread did).
std::unique_lock<std::recursive_mutex> lock_building();

}  // namespace lamina::engine
