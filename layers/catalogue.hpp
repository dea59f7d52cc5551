// SPDX-License-Identifier: Apache-2.0
// layers/catalogue.hpp — each family file's registration of its Keras classes, called together by
// register_catalogue (layers/catalogue.cpp). Registration is an explicit call rather than a static
// initializer in each file: a program linked against the static liblamina.a keeps only the object
// files it references, so a class whose file the program never names would otherwise be missing
// when load_model meets it in a file.
#pragma once

namespace lamina::layers {

/// Registers every built-in class; engine/layer_spec.cpp calls it once, before the first lookup.
void register_catalogue();

// One per family file.
void register_activation_layers();
void register_activity_regularization_layers();
void register_attention_layers();
void register_conv_layers();
void register_conv3d_layers();
void register_conv_lstm_layers();
void register_conv_transpose_layers();
void register_core_layers();
void register_depthwise_conv_layers();
void register_depthwise_conv1d_layers();
void register_einsum_dense_layers();
void register_embedding_layers();
void register_group_normalization_layers();
void register_locally_connected_layers();
void register_masking_layers();
void register_merge_layers();
void register_multi_head_attention_layers();
void register_noise_layers();
void register_normalization_layers();
void register_pooling_layers();
void register_pooling3d_layers();
void register_preprocessing_image_layers();
void register_preprocessing_numeric_layers();
void register_recurrent_layers();
void register_reshaping_layers();
void register_reshaping3d_layers();
void register_wrapper_layers();

}  // namespace lamina::layers
