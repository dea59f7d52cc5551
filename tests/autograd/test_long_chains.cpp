// SPDX-License-Identifier: Apache-2.0
// Graphs as long as a 65,536-step recurrent layer makes: freeing one must not recurse once per
// node (each node owns the one before it through its inputs and its backward's captures).
#include <catch2/catch.hpp>

#include <new>

#include <lamina/lamina.hpp>

using namespace lamina;

TEST_CASE("A 300,000-op autograd chain is freed and differentiated without overflowing the stack", "[autograd]") {
  Tensor x = Tensor::from_vector<float>({1.0f, 2.0f}, {2});
  x.set_requires_grad(true);
  {
    Tensor y = x;
    for (int i = 0; i < 300000; ++i) y = (i % 2 == 0 ? y * 1.0 : y.reshape({2}));
    sum(y).backward();
  }  // y's chain is freed here, after backward kept it whole
  CHECK(x.grad().at(0) == 1.0);
  Tensor z = x;
  for (int i = 0; i < 300000; ++i) z = z + 0.0;
  z = Tensor();  // freed without backward
  CHECK(x.defined());
}

namespace {
// A layer whose own scratch memory runs out (as an index table sized from a huge config would).
class Hungry : public Layer {
 public:
  Hungry() : Layer("hungry") {}
  std::string class_name() const override { return "Hungry"; }
  Tensor call(const Tensor&, bool) override { throw std::bad_alloc(); }
  Shape compute_output_shape(const Shape& s) override { return s; }
};
}  // namespace

TEST_CASE("std::bad_alloc inside a layer's call leaves as OutOfMemoryError naming the layer", "[engine]") {
  Sequential m({layers::Input({3}), LayerHandle<Hungry>(std::make_shared<Hungry>())});
  CHECK_THROWS_MATCHES(m.predict(Tensor::zeros({2, 3}), {.verbose = 0}), OutOfMemoryError,
                       Catch::Matchers::Message("Hungry 'hungry': out of memory computing its output for input (2, 3)"));
}
