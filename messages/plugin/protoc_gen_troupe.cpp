// protoc-gen-troupe: the protoc plugin behind `troupe_add_messages`.
//
// It runs in the same protoc invocation as `--cpp_out` and writes into the
// files the C++ generator just produced, at its insertion points:
//  - `<name>.pb.h`, "includes": the protobuf ⇄ CAF bridge, so every user of a
//    generated header can put its messages into CAF messages;
//  - `<name>.pb.cc`, "global_scope": one registration per message class.
// Registering from inside `.pb.cc` means a message whose code is linked is
// registered, even from a static library: there is no list to keep in sync.
//
// For every `service`, it also writes (at the "namespace_scope" insertion
// points) a class `<Service>` holding `Service`, the server side a user
// implements, and `Stub`, the client (troupe/services/service.hpp,
// stream_reply.hpp and stub.hpp; docs/services.md). Server-streaming
// methods return a stream (a credit-bounded producer); a client-streaming
// method is refused with an error. Methods become snake_case C++ functions and
// are identified by their full name "/pkg.Service/Method".

#include <algorithm>
#include <cctype>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

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

/// "GetHTTPStatus" -> "get_http_status", "Quote" -> "quote".
std::string snake_case(const std::string& name) {
  std::string result;
  for (size_t i = 0; i < name.size(); ++i) {
    auto c = name[i];
    auto upper = std::isupper(static_cast<unsigned char>(c)) != 0;
    if (upper && i > 0) {
      auto prev_lower = std::islower(static_cast<unsigned char>(name[i - 1])) != 0
        || std::isdigit(static_cast<unsigned char>(name[i - 1])) != 0;
      auto next_lower =
        i + 1 < name.size() && std::islower(static_cast<unsigned char>(name[i + 1])) != 0;
      auto prev_upper = std::isupper(static_cast<unsigned char>(name[i - 1])) != 0;
      if (prev_lower || (prev_upper && next_lower))
        if (result.empty() || result.back() != '_')
          result += '_';
    }
    result += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return result;
}

/// Names the generated classes use themselves: a method may not take them.
const std::set<std::string>& reserved_names() {
  // Members of service_base and stub_base (and of the generated classes):
  // a method with one of these names would hide or clash with it.
  static const std::set<std::string> names{"after",
                                           "arm_deferred",
                                           "bind",
                                           "call_async",
                                           "call_blocking",
                                           "call_stream_async",
                                           "call_stream_blocking",
                                           "check_stream",
                                           "dispatch",
                                           "expire_deferred",
                                           "fire",
                                           "full_name",
                                           "mailbox",
                                           "make_behavior",
                                           "methods",
                                           "on_start",
                                           "on_stop",
                                           "open_stream",
                                           "self",
                                           "service_full_name",
                                           "service_full_name_v",
                                           "service_name",
                                           "stats",
                                           "stop",
                                           "target",
                                           "unimplemented",
                                           "unknown_method",
                                           "watch_deferred"};
  return names;
}

/// Checks `service` and fills the C++ names of its methods.
bool method_names(const pb::ServiceDescriptor* service, std::vector<std::string>& names,
                  std::string* error) {
  std::set<std::string> seen;
  for (int i = 0; i < service->method_count(); ++i) {
    auto* m = service->method(i);
    if (m->client_streaming()) {
      *error = "protoc-gen-troupe: " + m->full_name()
        + ": client-streaming methods are not supported (docs/services.md)";
      return false;
    }
    auto name = snake_case(m->name());
    if (reserved_names().count(name) != 0 || !seen.insert(name).second) {
      *error = "protoc-gen-troupe: " + m->full_name() + ": its C++ name \"" + name
        + "\" is taken (reserved, or another method's)";
      return false;
    }
    names.push_back(name);
  }
  return true;
}

bool has_server_streaming(const pb::FileDescriptor* file) {
  for (int i = 0; i < file->service_count(); ++i)
    for (int j = 0; j < file->service(i)->method_count(); ++j)
      if (file->service(i)->method(j)->server_streaming())
        return true;
  return false;
}

/// The variables of one method for the printer.
std::map<std::string, std::string> method_vars(const pb::MethodDescriptor* m,
                                               const std::string& cxx) {
  return {{"rpc", m->name()},
          {"cxx", cxx},
          {"service", m->service()->name()},
          {"in_full", m->input_type()->full_name()},
          {"out_full", m->output_type()->full_name()},
          {"stream", m->server_streaming() ? "stream " : ""},
          {"kind", m->server_streaming() ? "stream_reply" : "reply"},
          {"in", pb::compiler::cpp::QualifiedClassName(m->input_type())},
          {"out", pb::compiler::cpp::QualifiedClassName(m->output_type())}};
}

/// The class declarations, in the .pb.h (inside the package's namespace).
void declare_service(const pb::ServiceDescriptor* service,
                     const std::vector<std::string>& names, pb::io::Printer& out) {
  std::map<std::string, std::string> vars{{"name", service->name()},
                                          {"full", service->full_name()}};
  out.Print(vars,
            "\n// Troupe service $full$ (protoc-gen-troupe; docs/services.md).\n"
            "class $name$ final {\n"
            "public:\n"
            "  static constexpr const char* full_name = \"$full$\";\n"
            "\n"
            "  /// The full name of each method, as it travels in the call's context.\n"
            "  struct methods {\n");
  for (int i = 0; i < service->method_count(); ++i)
    out.Print("    static constexpr const char* $cxx$ = \"/$full$/$rpc$\";\n", "cxx", names[i],
              "full", service->full_name(), "rpc", service->method(i)->name());
  out.Print(vars,
            "  };\n"
            "\n"
            "  /// The server side: override the methods you implement (the others\n"
            "  /// answer `unimplemented`); run it with `troupe::services::service_child`.\n"
            "  class Service : public ::troupe::services::service_base {\n"
            "  public:\n"
            "    static constexpr const char* service_full_name_v = \"$full$\";\n"
            "\n"
            "    const char* service_full_name() const noexcept override {\n"
            "      return service_full_name_v;\n"
            "    }\n"
            "\n");
  for (int i = 0; i < service->method_count(); ++i)
    out.Print(method_vars(service->method(i), names[i]),
              "    /// rpc $rpc$($in_full$) returns ($stream$$out_full$)\n"
              "    virtual ::troupe::services::$kind$<$out$>\n"
              "    $cxx$(::troupe::services::server_call& call, const $in$& request);\n"
              "\n");
  out.Print(vars,
            "    ::caf::behavior make_behavior() override;\n"
            "  };\n"
            "\n"
            "  /// The client: the same type for a service in this process or on\n"
            "  /// another node (the channel decides).\n"
            "  class Stub : public ::troupe::services::stub_base {\n"
            "  public:\n"
            "    explicit Stub(::troupe::services::channel target,\n"
            "                  ::troupe::services::stub_config config = {});\n");
  for (int i = 0; i < service->method_count(); ++i) {
    auto* m = service->method(i);
    auto mv = method_vars(m, names[i]);
    if (m->server_streaming()) {
      out.Print(
        mv,
        "\n"
        "    /// $rpc$ from inside an actor: `.then(on_stream, on_error)` starts it;\n"
        "    /// `on_stream` gets a producer of `$out_full$` to subscribe a consumer\n"
        "    /// of at most `capacity` to (the stream's bound).\n"
        "    ::troupe::services::async_stream<$in$, $out$>\n"
        "    $cxx$(::caf::event_based_actor* self, const $in$& request, uint32_t capacity,\n"
        "      ::troupe::services::call_options options = {}) const {\n"
        "      return call_stream_async<$in$, $out$>(\n"
        "        self, methods::$cxx$, request, capacity, std::move(options));\n"
        "    }\n"
        "\n"
        "    /// $rpc$ from outside actors: blocks until the stream is open.\n"
        "    ::caf::expected<::caf::actor>\n"
        "    $cxx$(const $in$& request, uint32_t capacity,\n"
        "      const ::troupe::services::call_options& options = {}) const {\n"
        "      return call_stream_blocking<$in$, $out$>(\n"
        "        methods::$cxx$, request, capacity, options);\n"
        "    }\n");
      continue;
    }
    out.Print(mv,
              "\n"
              "    /// $rpc$ from inside an actor: `.then(on_reply, on_error)` starts it.\n"
              "    ::troupe::services::async_reply<$in$, $out$>\n"
              "    $cxx$(::caf::event_based_actor* self, const $in$& request,\n"
              "      ::troupe::services::call_options options = {}) const {\n"
              "      return call_async<$in$, $out$>(\n"
              "        self, methods::$cxx$, request, std::move(options));\n"
              "    }\n"
              "\n"
              "    /// $rpc$ from outside actors: blocks until the reply or the deadline.\n"
              "    ::caf::expected<$out$>\n"
              "    $cxx$(const $in$& request,\n"
              "      const ::troupe::services::call_options& options = {}) const {\n"
              "      return call_blocking<$in$, $out$>(methods::$cxx$, request, options);\n"
              "    }\n");
  }
  out.Print("  };\n"
            "};\n");
}

/// The out-of-line definitions, in the .pb.cc (inside the package's
/// namespace).
void define_service(const pb::ServiceDescriptor* service,
                    const std::vector<std::string>& names, pb::io::Printer& out) {
  std::map<std::string, std::string> vars{{"name", service->name()},
                                          {"full", service->full_name()}};
  out.Print(vars, "\n// Troupe service $full$ (protoc-gen-troupe): definitions.\n");
  for (int i = 0; i < service->method_count(); ++i)
    out.Print(method_vars(service->method(i), names[i]),
              "\n::troupe::services::$kind$<$out$>\n"
              "$service$::Service::$cxx$(::troupe::services::server_call&, const $in$&) {\n"
              "  return unimplemented(methods::$cxx$);\n"
              "}\n");
  // One handler per request type: methods that share it are told apart by
  // the method name in the call's context.
  std::vector<const pb::Descriptor*> inputs;
  for (int i = 0; i < service->method_count(); ++i) {
    auto* in = service->method(i)->input_type();
    if (std::find(inputs.begin(), inputs.end(), in) == inputs.end())
      inputs.push_back(in);
  }
  out.Print(vars,
            "\n::caf::behavior $name$::Service::make_behavior() {\n"
            "  return {\n");
  for (auto* in : inputs) {
    // Const references: the caller keeps its message (to retry it), and a
    // mutable one would make CAF copy the whole message for the handler.
    out.Print("    [this](const ::troupe::actors::call_context& ctx, const $in$& request) {\n"
              "      return dispatch(ctx, [&](::troupe::services::server_call& call) {\n",
              "in", pb::compiler::cpp::QualifiedClassName(in));
    for (int i = 0; i < service->method_count(); ++i) {
      auto* m = service->method(i);
      if (m->input_type() != in)
        continue;
      out.Print(method_vars(m, names[i]),
                m->server_streaming()
                  ? "        if (ctx.method == methods::$cxx$)\n"
                    "          return $cxx$(call, request).open(*this, call);\n"
                  : "        if (ctx.method == methods::$cxx$)\n"
                    "          return $cxx$(call, request).take();\n");
    }
    out.Print("        return unknown_method(ctx);\n"
              "      });\n"
              "    },\n");
  }
  out.Print(vars,
            "  };\n"
            "}\n"
            "\n"
            "$name$::Stub::Stub(::troupe::services::channel target,\n"
            "                   ::troupe::services::stub_config config)\n"
            "  : stub_base(std::move(target), full_name, std::move(config)) {}\n");
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
    if (file->service_count() > 0 && file->options().cc_generic_services()) {
      *error = "protoc-gen-troupe: " + file->name()
        + " sets cc_generic_services: protobuf's generic service classes and "
          "Troupe's would have the same names";
      return false;
    }
    std::vector<std::vector<std::string>> names(file->service_count());
    for (int i = 0; i < file->service_count(); ++i)
      if (!method_names(file->service(i), names[i], error))
        return false;
    {
      std::unique_ptr<pb::io::ZeroCopyOutputStream> stream{
        context->OpenForInsert(base + ".pb.h", "includes")};
      pb::io::Printer out{stream.get(), '$'};
      out.Print("#include <troupe/messages/protobuf_inspect.hpp>\n");
      if (file->service_count() > 0)
        out.Print("#include <troupe/services/service.hpp>\n"
                  "#include <troupe/services/stub.hpp>\n");
      if (has_server_streaming(file))
        out.Print("#include <troupe/services/stream_reply.hpp>\n");
    }
    if (file->service_count() > 0) {
      {
        std::unique_ptr<pb::io::ZeroCopyOutputStream> stream{
          context->OpenForInsert(base + ".pb.h", "namespace_scope")};
        pb::io::Printer out{stream.get(), '$'};
        for (int i = 0; i < file->service_count(); ++i)
          declare_service(file->service(i), names[i], out);
      }
      std::unique_ptr<pb::io::ZeroCopyOutputStream> stream{
        context->OpenForInsert(base + ".pb.cc", "namespace_scope")};
      pb::io::Printer out{stream.get(), '$'};
      for (int i = 0; i < file->service_count(); ++i)
        define_service(file->service(i), names[i], out);
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
