// Troupe's two log formats: text lines with the actor path, and one JSON
// object per line; the switch reaches existing and new loggers.

#include <catch2/catch.hpp>

#include <sstream>

#include <nlohmann/json.hpp>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <caf/detail/test_actor_clock.hpp>

#include <troupe/actors/call_context.hpp>
#include <troupe/actors/log.hpp>

using namespace std::chrono_literals;
using nlohmann::json;
using troupe::actors::actor_path_scope;
using troupe::actors::call_context;
using troupe::actors::call_context_scope;
using troupe::actors::log_format;

namespace {

/// A logger writing into a string with `format`.
struct captured {
  std::ostringstream lines;
  std::shared_ptr<spdlog::sinks::ostream_sink_mt> sink =
    std::make_shared<spdlog::sinks::ostream_sink_mt>(lines);
  spdlog::logger log{"log_test", sink};

  explicit captured(log_format format) {
    sink->set_formatter(troupe::actors::make_formatter(format));
  }
};

/// A clock standing still at `at`, so "left" is exact.
struct fixed_clock : caf::detail::test_actor_clock {
  explicit fixed_clock(time_point at) {
    current_time = at;
  }
};

const auto t0 = caf::actor_clock::time_point{} + 1000s;

} // namespace

TEST_CASE("a JSON line carries the message, the actor path and the call context",
          "[actors][log]") {
  captured c{log_format::json};
  auto ctx = call_context::ingress("/shop.v1.Pricing/Quote", t0, 2s);
  ctx.request_id = "req-7";
  ctx.attempt = 2;
  fixed_clock clock{t0 + 500ms};
  std::string path = "shop/shop.v1.Pricing";
  {
    call_context_scope current{ctx, &clock};
    actor_path_scope at{path};
    c.log.info("quoting {} x{}", "apple", 3);
  }
  c.log.warn("outside \xff"); // not UTF-8: replaced, not thrown
  std::istringstream in{c.lines.str()};
  std::string first;
  std::string second;
  REQUIRE(std::getline(in, first));
  REQUIRE(std::getline(in, second));
  auto a = json::parse(first);
  CHECK(a["msg"] == "quoting apple x3");
  CHECK(a["level"] == "info");
  CHECK(a["logger"] == "log_test");
  CHECK(a["actor"] == path);
  CHECK(a["method"] == "/shop.v1.Pricing/Quote");
  CHECK(a["trace_id"] == ctx.trace_id);
  CHECK(a["span_id"] == ctx.span_id);
  CHECK(a["request_id"] == "req-7");
  CHECK(a["attempt"] == 2);
  CHECK(a["deadline_left_ms"] == 1500.0);
  CHECK(a["time"].get<std::string>().size() == 24); // 2026-11-30T10:14:44.123Z
  auto b = json::parse(second);
  CHECK(b["level"] == "warning");
  CHECK_FALSE(b.contains("actor"));
  CHECK_FALSE(b.contains("trace_id"));
}

TEST_CASE("a text line shows the actor path, the time left and a retry's attempt",
          "[actors][log]") {
  captured c{log_format::text};
  auto ctx = call_context::ingress("/a.B/C", t0, 2s);
  ctx.request_id = "req-8";
  fixed_clock clock{t0 + 1977ms};
  std::string path = "root/worker";
  {
    call_context_scope current{ctx, &clock};
    actor_path_scope at{path};
    c.log.info("first");
    ctx.attempt = 3;
    c.log.info("again");
  }
  auto text = c.lines.str();
  CAPTURE(text);
  CHECK(text.find("[actor=root/worker] [trace=" + ctx.trace_id + " span=" + ctx.span_id
                  + " left=23 ms req=req-8] first")
        != std::string::npos);
  CHECK(text.find("left=23 ms attempt=3 req=req-8] again") != std::string::npos);
}

TEST_CASE("set_log_format switches Troupe's loggers, not the user's", "[actors][log]") {
  auto before = troupe::actors::current_log_format();
  std::ostringstream lines;
  auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(lines);
  auto troupes = troupe::actors::logger("log_test.troupe");
  troupes->sinks().push_back(sink);
  // A sink of its own (formatters belong to sinks), on the same stream.
  auto users_sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(lines);
  auto users = std::make_shared<spdlog::logger>("log_test.user", users_sink);
  spdlog::register_logger(users);
  users->set_pattern("user: %v");
  troupe::actors::set_log_format(log_format::json);
  troupes->info("from troupe");
  users->info("from user");
  // A logger made after the switch is switched by the next one too.
  auto later = troupe::actors::logger("log_test.later");
  later->sinks().push_back(sink);
  troupe::actors::set_log_format(log_format::text);
  later->info("from later");
  troupe::actors::set_log_format(before);
  troupes->sinks().pop_back();
  later->sinks().pop_back();
  spdlog::drop("log_test.user");
  std::istringstream in{lines.str()};
  std::string line;
  REQUIRE(std::getline(in, line));
  CHECK(json::parse(line)["msg"] == "from troupe");
  REQUIRE(std::getline(in, line));
  CHECK(line == "user: from user"); // the user's pattern stays
  REQUIRE(std::getline(in, line));
  CHECK(line.find("[log_test.later] from later") != std::string::npos);
}
