// lamina/lamina.hpp — everything a model script needs, in one include.
#pragma once

#include "lamina/activations.hpp"
#include "lamina/callbacks.hpp"
#include "lamina/datasets/datasets.hpp"
#include "lamina/errors.hpp"
#include "lamina/initializers.hpp"
#include "lamina/layer.hpp"
#include "lamina/layers/core.hpp"
#include "lamina/losses.hpp"
#include "lamina/metrics.hpp"
#include "lamina/model.hpp"
#include "lamina/ops.hpp"
#include "lamina/optimizers.hpp"
#include "lamina/tensor.hpp"
#include "lamina/layers/conv.hpp"
#include "lamina/layers/pooling.hpp"
#include "lamina/layers/normalization.hpp"
