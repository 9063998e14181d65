#include "well_known_types.hpp"

#include <google/protobuf/any.pb.h>
#include <google/protobuf/duration.pb.h>
#include <google/protobuf/empty.pb.h>
#include <google/protobuf/field_mask.pb.h>
#include <google/protobuf/struct.pb.h>
#include <google/protobuf/timestamp.pb.h>
#include <google/protobuf/wrappers.pb.h>

#include "troupe/messages/register_type.hpp"

namespace troupe::messages {

namespace {

template <class T>
void add(type_registry& registry) {
  auto name = T::descriptor()->full_name();
  registry.add(message_type{name, std::type_index{typeid(T)}, &detail::add_to_config<T>,
                            &detail::decode<T>, &detail::view<T>});
}

} // namespace

void register_well_known_types(type_registry& registry) {
  namespace pb = google::protobuf;
  add<pb::Any>(registry);
  add<pb::Duration>(registry);
  add<pb::Empty>(registry);
  add<pb::FieldMask>(registry);
  add<pb::Struct>(registry);
  add<pb::Value>(registry);
  add<pb::ListValue>(registry);
  add<pb::Timestamp>(registry);
  add<pb::DoubleValue>(registry);
  add<pb::FloatValue>(registry);
  add<pb::Int64Value>(registry);
  add<pb::UInt64Value>(registry);
  add<pb::Int32Value>(registry);
  add<pb::UInt32Value>(registry);
  add<pb::BoolValue>(registry);
  add<pb::StringValue>(registry);
  add<pb::BytesValue>(registry);
}

} // namespace troupe::messages
