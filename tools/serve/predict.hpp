// SPDX-License-Identifier: Apache-2.0
// lamina_serve: the predict request and response bodies of TF Serving's REST API.
#pragma once

#include <string>

#include "model_manager.hpp"

namespace lamina::serve {

class Batcher;

/// Answers one predict body: {"instances": ...} (row format) with {"predictions": ...}, or
/// {"inputs": ...} (columnar format) with {"outputs": ...}. A model with one output answers its
/// tensor bare; several outputs are keyed by output name (per instance in row format). Runs
/// through `batcher` when given. Throws BadRequest for what the client got wrong.
std::string predict_response(const std::shared_ptr<Servable>& servable, const std::string& body, Batcher* batcher);

/// GET .../metadata: TF Serving's GetModelMetadataResponse for the serving_default signature.
std::string metadata_response(const std::string& model_name, const Servable& servable);

}  // namespace lamina::serve
