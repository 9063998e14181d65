// Golden files of the code protoc-gen-troupe generates for a `service`:
// the part of greeter.pb.h and greeter.pb.cc it inserts must match
// tests/services/golden/ byte for byte. After an intended change of the
// generator, copy the sections this test prints on failure into the golden
// files and review the diff.

#include <fstream>
#include <sstream>
#include <string>

#include <catch2/catch.hpp>

namespace {

std::string read(const std::string& path) {
  std::ifstream in{path};
  REQUIRE(in.good());
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

/// The generator's part of a generated file: from its first
/// "// Troupe service" comment to the namespace_scope insertion point.
std::string generated_section(const std::string& text) {
  auto first = text.find("// Troupe service");
  auto last = text.find("// @@protoc_insertion_point(namespace_scope)");
  REQUIRE(first != std::string::npos);
  REQUIRE(last != std::string::npos);
  REQUIRE(first < last);
  return text.substr(first, last - first);
}

} // namespace

TEST_CASE("the generated service code matches the golden files", "[services][codegen]") {
  auto file = GENERATE(as<std::string>{}, "greeter.pb.h", "greeter.pb.cc");
  CAPTURE(file);
  auto generated =
    generated_section(read(std::string{TROUPE_GENERATED_DIR} + "/services_test/v1/" + file));
  auto golden = read(std::string{TROUPE_GOLDEN_DIR} + "/" + file + ".golden");
  if (generated != golden)
    FAIL_CHECK("generated section differs from golden/" << file << ".golden; it is:\n"
                                                        << generated);
  CHECK(generated == golden);
}

TEST_CASE("a proto without services gets no service code", "[services][codegen]") {
  auto text = read(std::string{TROUPE_GENERATED_DIR} + "/services_test/v1/common.pb.h");
  CHECK(text.find("troupe/services") == std::string::npos);
  CHECK(text.find("// Troupe service") == std::string::npos);
}
