// protoc-gen-troupe: the protoc plugin behind `troupe_add_messages`.
//
// It runs in the same protoc invocation as `--cpp_out` and writes into the
// files the C++ generator just produced, at its insertion points:
//  - `<name>.pb.h`, "includes": the protobuf ⇄ CAF bridge, so every user of a
//    generated header can put its messages into CAF messages;
//  - `<name>.pb.cc`, "global_scope": one registration per message class.
// Registering from inside `.pb.cc` means a message whose code is linked is
// registered, even from a static library: there is no list to keep in sync.

#include <memory>
#include <string>

#include <google/protobuf/compiler/code_generator.h>
#include <google/protobuf/compiler/cpp/names.h>
#include <google/protobuf/compiler/plugin.h>
#include <google/protobuf/descriptor.h>
#include <google/protobuf/descriptor.pb.h>
#include <google/protobuf/io/printer.h>
#include <google/protobuf/io/zero_copy_stream.h>

namespace {

namespace pb = google::protobuf;

std::string strip_proto(const std::string& file_name) {
  const std::string suffix = ".proto";
  if (file_name.size() > suffix.size()
      && file_name.compare(file_name.size() - suffix.size(), suffix.size(), suffix) == 0)
    return file_name.substr(0, file_name.size() - suffix.size());
  return file_name;
}

void add_registrations(const pb::Descriptor* msg, pb::io::Printer& out) {
  // protoc synthesizes one message per map field; they are not user types.
  if (msg->options().map_entry())
    return;
  out.Print("  ::troupe::messages::register_type<$cls$>(\"$name$\"),\n", "cls",
            pb::compiler::cpp::QualifiedClassName(msg), "name", msg->full_name());
  for (int i = 0; i < msg->nested_type_count(); ++i)
    add_registrations(msg->nested_type(i), out);
}

class troupe_generator : public pb::compiler::CodeGenerator {
public:
  // We only enumerate message classes, so every field feature is fine.
  uint64_t GetSupportedFeatures() const override {
    return FEATURE_PROTO3_OPTIONAL;
  }

  bool Generate(const pb::FileDescriptor* file, const std::string& parameter,
                pb::compiler::GeneratorContext* context, std::string* error) const override {
    if (!parameter.empty()) {
      *error = "protoc-gen-troupe takes no parameters (got \"" + parameter + "\")";
      return false;
    }
    auto base = strip_proto(file->name());
    {
      std::unique_ptr<pb::io::ZeroCopyOutputStream> stream{
        context->OpenForInsert(base + ".pb.h", "includes")};
      pb::io::Printer out{stream.get(), '$'};
      out.Print("#include <troupe/messages/protobuf_inspect.hpp>\n");
    }
    {
      std::unique_ptr<pb::io::ZeroCopyOutputStream> stream{
        context->OpenForInsert(base + ".pb.cc", "includes")};
      pb::io::Printer out{stream.get(), '$'};
      out.Print("#include <troupe/messages/register_type.hpp>\n");
    }
    if (file->message_type_count() == 0)
      return true;
    std::unique_ptr<pb::io::ZeroCopyOutputStream> stream{
      context->OpenForInsert(base + ".pb.cc", "global_scope")};
    pb::io::Printer out{stream.get(), '$'};
    out.Print("// Registers this file's messages with Troupe (protoc-gen-troupe).\n"
              "namespace {\n"
              "[[maybe_unused]] const bool troupe_messages_registered[] = {\n");
    for (int i = 0; i < file->message_type_count(); ++i)
      add_registrations(file->message_type(i), out);
    out.Print("};\n"
              "} // namespace\n");
    return true;
  }
};

} // namespace

int main(int argc, char* argv[]) {
  troupe_generator generator;
  return pb::compiler::PluginMain(argc, argv, &generator);
}
