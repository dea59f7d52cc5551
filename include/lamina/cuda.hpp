// SPDX-License-Identifier: Apache-2.0
// lamina/cuda.hpp — whether the CUDA backend is here, and how many GPUs it sees (as
// torch.cuda.is_available / device_count). Tensors and models go to a GPU with
// Device::parse("cuda:0"), Tensor::to and Model::to; using cuda:N where no such device is
// visible throws DeviceError ("no CUDA device visible: ...").
#pragma once

namespace lamina::cuda {

/// Whether this build of lamina has the CUDA backend (CMake option LAMINA_WITH_CUDA, a toolkit).
bool is_built();
/// The CUDA devices visible to this process: 0 in a build without CUDA, without a driver or
/// without a GPU (CUDA_VISIBLE_DEVICES applies).
int device_count();
inline bool is_available() { return device_count() > 0; }
/// Waits until the work queued on cuda:`device` has finished (for timing; copies to the host
/// wait by themselves).
void synchronize(int device = 0);

}  // namespace lamina::cuda
