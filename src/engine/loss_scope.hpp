// SPDX-License-Identifier: Apache-2.0
// src/engine/loss_scope.hpp — the losses layers add during a call (activity regularizers,
// add_loss) are kept per layer, not per call: a predict on one thread would otherwise add its
// penalties to the loss that an evaluate or fit of the same model computes on another. predict
// and predict_on_batch never read them, so they run with recording off.
#pragma once

namespace lamina::engine {

/// While alive, layers on this thread neither record nor clear losses: add_loss and
/// clear_losses are no-ops and activity regularizers are not computed. Nests.
class NoLossRecording {
 public:
  NoLossRecording();
  ~NoLossRecording();
  NoLossRecording(const NoLossRecording&) = delete;
  NoLossRecording& operator=(const NoLossRecording&) = delete;
};

}  // namespace lamina::engine
