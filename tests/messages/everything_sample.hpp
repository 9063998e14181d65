#pragma once

// A test.v1.Everything with every field set to a non-default value.

#include "test/v1/everything.pb.h"

namespace troupe::testing {

inline test::v1::Everything everything_sample() {
  test::v1::Everything x;
  x.set_i32(-42);
  x.set_i64(int64_t{1} << 40);
  x.set_u64(~uint64_t{0});
  x.set_s32(-7);
  x.set_real(3.25);
  x.set_flag(true);
  x.set_text("héllo, wörld");
  x.set_blob(std::string{"\0\x01\xff\x7f", 4});
  x.set_color(test::v1::COLOR_BLUE);
  x.mutable_inner()->set_label("inner");
  x.mutable_inner()->add_values(1);
  x.mutable_inner()->add_values(-2);
  for (int i = 0; i < 3; ++i)
    x.add_inners()->set_label("item " + std::to_string(i));
  (*x.mutable_counts())["a"] = 1;
  (*x.mutable_counts())["b"] = -2;
  x.set_number(99);
  x.set_maybe(0); // explicit presence: set, even though zero
  return x;
}

} // namespace troupe::testing
