// call_context: ids, deadlines, inheritance, the current context and the
// log lines that carry it.

#include <sstream>

#include <catch2/catch.hpp>

#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <troupe/actors/call_context.hpp>
#include <troupe/actors/log.hpp>

using namespace std::chrono_literals;
using troupe::actors::call_context;
using troupe::actors::call_context_scope;
using troupe::actors::current_call_context;

namespace {

const auto t0 = call_context::time_point{} + 1h;

} // namespace

TEST_CASE("an ingress context has W3C ids and its own deadline", "[services][call_context]") {
  auto ctx = call_context::ingress("/a.B/C", t0, 2s);
  CHECK(ctx.trace_id.size() == 32);
  CHECK(ctx.span_id.size() == 16);
  CHECK_FALSE(ctx.request_id.empty());
  CHECK(ctx.remaining(t0) == 2s);
  CHECK_FALSE(ctx.expired(t0 + 1999ms));
  CHECK(ctx.expired(t0 + 2s));
  std::string trace;
  std::string span;
  REQUIRE(troupe::actors::parse_traceparent(ctx.traceparent(), trace, span));
  CHECK(trace == ctx.trace_id);
  CHECK(span == ctx.span_id);
  auto other = call_context::ingress("/a.B/C", t0, 0s);
  CHECK_FALSE(other.has_deadline());
  CHECK(other.trace_id != ctx.trace_id);
}

TEST_CASE("a child call keeps the trace and the earlier deadline",
          "[services][call_context]") {
  auto parent = call_context::ingress("/a.B/C", t0, 2s);
  parent.request_id = "req-7";
  auto longer = parent.child("/a.D/E", t0 + 500ms, 5s);
  CHECK(longer.trace_id == parent.trace_id);
  CHECK(longer.request_id == "req-7");
  CHECK(longer.span_id != parent.span_id);
  CHECK(longer.method == "/a.D/E");
  CHECK(longer.remaining(t0 + 500ms) == 1500ms); // the parent's bound
  auto shorter = parent.child("/a.D/E", t0 + 500ms, 100ms);
  CHECK(shorter.remaining(t0 + 500ms) == 100ms);
  auto inherited = parent.child("/a.D/E", t0, 0s);
  CHECK(inherited.deadline() == parent.deadline());
}

TEST_CASE("malformed traceparents are refused", "[services][call_context]") {
  std::string trace;
  std::string span;
  CHECK(troupe::actors::parse_traceparent(
    "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", trace, span));
  CHECK(trace == "4bf92f3577b34da6a3ce929d0e0e4736");
  CHECK_FALSE(troupe::actors::parse_traceparent(
    "00-00000000000000000000000000000000-00f067aa0ba902b7-01", trace, span));
  CHECK_FALSE(troupe::actors::parse_traceparent(
    "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01", trace, span));
  CHECK_FALSE(troupe::actors::parse_traceparent("00-4bf9-00f0-01", trace, span));
}

TEST_CASE("log lines carry the current context and only while it is current",
          "[services][call_context][log]") {
  std::ostringstream lines;
  auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(lines);
  sink->set_formatter(troupe::actors::make_formatter());
  spdlog::logger log{"context_test", sink};
  auto ctx = call_context::ingress("/a.B/C", t0, 1s);
  ctx.request_id = "req-9";
  REQUIRE(current_call_context() == nullptr);
  {
    call_context_scope outer{ctx};
    auto inner_ctx = ctx.child("/a.D/E", t0, 0s);
    {
      call_context_scope inner{inner_ctx};
      CHECK(current_call_context() == &inner_ctx);
      log.info("inner");
    }
    CHECK(current_call_context() == &ctx);
    log.info("outer");
  }
  CHECK(current_call_context() == nullptr);
  log.info("none");
  auto text = lines.str();
  CAPTURE(text);
  CHECK(text.find("[trace=" + ctx.trace_id) != std::string::npos);
  CHECK(text.find("req=req-9] inner") != std::string::npos);
  CHECK(text.find("span=" + ctx.span_id + " req=req-9] outer") != std::string::npos);
  CHECK(text.find("[context_test] none") != std::string::npos);
}
