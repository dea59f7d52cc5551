// Loads a Keras model file (.h5 / .hdf5 from Keras 2 or 3 or lamina, .keras), prints its summary
// and predicts on an input read from a .npy file, or on zeros of the model's input shape.
//   load_keras_model model.h5 [input.npy]
#include <cstdio>
#include <exception>
#include <string>

#include <lamina/lamina.hpp>
#include <lamina/models.hpp>

using namespace lamina;

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s MODEL_FILE [INPUT.npy]\n", argv[0]);
    return 2;
  }
  try {
    Model model = models::load_model(argv[1], {.compile = false});
    model.summary();
    Tensor x;
    if (argc > 2) {
      x = io::load_npy(argv[2]).astype(float32);
    } else {
      Shape shape = model.input_shape();
      if (shape.empty()) throw ValueError("the model has several inputs; give an input file");
      shape[0] = 1;
      for (auto& d : shape)
        if (d < 0) d = 1;  // unknown dimensions (e.g. time steps): one
      x = Tensor::zeros(shape);
    }
    std::printf("input %s\n", x.shape().str().c_str());
    for (const Tensor& y : model.predict_outputs(x)) std::printf("%s\n", y.str().c_str());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}
