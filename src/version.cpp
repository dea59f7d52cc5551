// SPDX-License-Identifier: Apache-2.0
#include "lamina/version.hpp"

namespace lamina {

const char* version() noexcept { return LAMINA_VERSION_STRING; }

}  // namespace lamina
