#include "remote_pipeline.hpp"

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <mutex>

#include "bench.pb.h"

#include <caf/all.hpp>

#include <troupe/actors/consumer.hpp>
#include <troupe/actors/producer.hpp>
#include <troupe/transport/node.hpp>
#include <troupe/transport/remote_stream.hpp>
#include <troupe/transport/system_config.hpp>

double remote_pipeline_items_per_s(uint64_t items) {
  using namespace troupe::actors;
  using namespace troupe::transport;
  using transport_bench::v1::Blob;
  troupe::transport::system_config cfg;
  cfg.set("scheduler.max-threads", 2);
  caf::actor_system sys{cfg};
  auto a = node::start(sys, node_config{});
  auto b = node::start(sys, node_config{});
  if (!a || !b)
    return 0;
  uint64_t next = 1;
  auto producer = spawn_producer<Blob>(
    sys, producer_config{1024, {}}, [&next, items](size_t demand, std::vector<Blob>& out) {
      while (out.size() < demand && next <= items) {
        out.emplace_back();
        out.back().set_seq(next++);
      }
      return next > items ? pull_status::done : pull_status::more;
    });
  stream_export_config ecfg;
  ecfg.max_batch = 8192;
  if (!producer || !export_stream<Blob>(*a, *producer, "blobs", ecfg))
    return 0;
  std::mutex mtx;
  std::condition_variable cv;
  bool done = false;
  uint64_t sum = 0;
  auto t0 = std::chrono::steady_clock::now();
  stream_import_config icfg;
  icfg.capacity = 32768;
  icfg.batch_size = 1024;
  auto stream =
    import_stream<Blob>(sys, *b, "blobs@127.0.0.1:" + std::to_string(a->port()), icfg);
  if (!stream)
    return 0;
  auto consumer = spawn_consumer<Blob>(
    sys, *stream, consumer_config{4096, 1},
    [&sum](caf::span<const Blob> xs, seq_t) {
      for (auto& x : xs)
        sum += x.seq();
    },
    [&](const caf::error& err) {
      if (err)
        std::fprintf(stderr, "remote pipeline failed: %s\n", sys.render(err).c_str());
      std::lock_guard<std::mutex> guard{mtx};
      done = true;
      cv.notify_all();
    });
  {
    std::unique_lock<std::mutex> guard{mtx};
    cv.wait(guard, [&] { return done; });
  }
  auto secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (sum != items * (items + 1) / 2)
    std::fprintf(stderr, "remote pipeline: wrong sum\n");
  a->stop();
  b->stop();
  return static_cast<double>(items) / secs;
}
