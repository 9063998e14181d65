// troupe-files: a file-processing pipeline in two processes, run by a
// third.
//
//   troupe-files                  the driver: generates the input (--mb of
//                                 records, kept for the next run), starts a
//                                 reader and an aggregator process, kills
//                                 them with SIGKILL on the way (--kill),
//                                 restarts whatever died, checks the result
//                                 against the totals the generator wrote,
//                                 and ends with
//
//   files bytes=<n> records=<n> peak_rss_mb=<m> mb_per_s=<r> resumed=<yes|no>
//   aggregate_ok=<yes|no>
//
//   troupe-files --role=reader --input=<file>
//                                 serves files.v1.Reader: the file's totals,
//                                 a chunk at a time (reader_service.hpp)
//   troupe-files --role=aggregator --reader-port=<p> --dir=<d>
//                                 merges them and commits (aggregator.hpp)
//
// mb_per_s counts the whole run, restarts included; the line before the
// last one compares it with `cat input > /dev/null`. Exit code 0 only if
// the aggregate is exact.

#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <future>
#include <iostream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include <google/protobuf/util/message_differencer.h>

#include <caf/all.hpp>

#include <troupe/messages/error_category.hpp>
#include <troupe/services/rpc_errc.hpp>
#include <troupe/services/service_child.hpp>
#include <troupe/supervisors/supervisor.hpp>
#include <troupe/transport/node.hpp>
#include <troupe/transport/system_config.hpp>

#include "aggregator.hpp"
#include "child_process.hpp" // examples/common
#include "file_chunks.hpp"
#include "process_tools.hpp" // examples/common
#include "reader_service.hpp"
#include "records.hpp"
#include "stop_signals.hpp" // examples/common

namespace {

using namespace std::chrono_literals;
using troupe_examples::child_process;
using troupe_examples::peak_rss_kb;
using troupe_examples::word_value;

/// The aggregator's (and then the driver's) exit code when the input itself
/// is malformed: a typed error no restart can mend.
constexpr int bad_input_exit = 3;

struct files_system_config : troupe::transport::system_config {
  files_system_config() {
    opt_group{custom_options_, "global"}
      .add(role, "role", "driver (default), reader or aggregator")
      .add(dir, "dir", "where the input, the checkpoint and the result live")
      .add(mb, "mb", "driver: size of the generated input in MiB")
      .add(kill, "kill",
           "driver: whom to SIGKILL when, e.g. aggregator@30,reader@60 (percent)")
      .add(input, "input", "reader: the file to serve")
      .add(chunk_kb, "chunk-kb", "reader: chunk size in KiB")
      .add(reader_port, "reader-port", "aggregator: the reader's node port")
      .add(commit_mb, "commit-mb", "aggregator: commit every this many MiB")
      .add(corrupt_at, "corrupt-at",
           "driver: serve a copy of the input with one malformed record at this percent "
           "(0: none); the run must stop there with a typed error, its commits exact")
      .add(cold_cache, "cold-cache",
           "driver: drop the page cache before the run and before cat (root only)")
      .add(lifetime_s, "lifetime-s", "exit after this many seconds whatever happens");
  }
  std::string role = "driver";
  std::string dir = "files-data";
  uint32_t mb = 1024;
  std::string kill = "aggregator@35,reader@70";
  std::string input;
  uint32_t chunk_kb = 1024;
  uint16_t reader_port = 0;
  uint32_t commit_mb = 64;
  uint32_t corrupt_at = 0;
  bool cold_cache = false;
  uint32_t lifetime_s = 600;
};

/// Empties the page cache, so that a read comes from the disk (the disk's
/// pace is what `cat` is compared at). False if not allowed (not root).
bool drop_page_cache() {
  ::sync();
  FILE* f = std::fopen("/proc/sys/vm/drop_caches", "w");
  if (!f)
    return false;
  bool ok = std::fputs("1\n", f) >= 0;
  return std::fclose(f) == 0 && ok;
}

// -- reader ------------------------------------------------------------------

int run_reader(caf::actor_system& sys, const files_system_config& cfg,
               const troupe_examples::stop_signals& stop_signals) {
  auto baseline = sys.registry().running();
  auto node = troupe::transport::node::start(sys);
  if (!node) {
    std::cerr << "reader: cannot start the node: " << sys.render(node.error()) << "\n";
    return 1;
  }
  troupe::supervisors::supervisor_config sup;
  sup.name = "reader";
  files::reader_config rcfg;
  rcfg.path = cfg.input;
  rcfg.chunk_bytes = cfg.chunk_kb * 1024;
  sup.children.push_back(troupe::services::service_child<files::reader_service>(
    troupe::services::service_options{}.published_on(node->handle()), rcfg));
  auto services = troupe::supervisors::spawn_supervisor(sys, sup);
  if (!services) {
    std::cerr << "reader: cannot start: " << sys.render(services.error()) << "\n";
    return 1;
  }
  std::printf("PORT %u\n", static_cast<unsigned>(node->port()));
  stop_signals.wait(std::chrono::seconds{cfg.lifetime_s});
  troupe::supervisors::stop_and_wait(sys, *services, 30s);
  node->stop();
  auto leaked = troupe_examples::leaked_actors(sys, baseline);
  std::printf("reader peak_rss_kb=%ld leaked_actors=%ld\n", peak_rss_kb(), leaked);
  if (leaked != 0)
    std::_Exit(1);
  return 0;
}

// -- aggregator ----------------------------------------------------------------

int run_aggregator_process(caf::actor_system& sys, const files_system_config& cfg,
                           const troupe_examples::stop_signals& stop_signals) {
  auto baseline = sys.registry().running();
  auto node = troupe::transport::node::start(sys);
  if (!node) {
    std::cerr << "aggregator: cannot start the node: " << sys.render(node.error()) << "\n";
    return 1;
  }
  files::aggregator_settings settings;
  settings.checkpoint = cfg.dir + "/checkpoint";
  settings.result = cfg.dir + "/result.csv";
  settings.commit_bytes = uint64_t{cfg.commit_mb} << 20;
  settings.lifetime = std::chrono::seconds{cfg.lifetime_s};
  settings.stop_requested = [&stop_signals] { return stop_signals.pending(); };
  auto outcome = files::run_aggregator(sys, *node, "127.0.0.1", cfg.reader_port, settings);
  node->stop();
  auto leaked = troupe_examples::leaked_actors(sys, baseline);
  // The input itself is bad: restarting cannot help.
  using troupe::services::rpc_errc;
  bool bad_input = outcome.error == caf::make_error(rpc_errc::invalid_argument)
    || outcome.error == caf::make_error(rpc_errc::failed_precondition);
  if (outcome.error) {
    std::printf("aggregator error: %s\n", troupe::messages::describe(outcome.error).c_str());
    std::printf(
      "aggregator failed bad_input=%s resumed_from=%llu peak_rss_kb=%ld leaked_actors=%ld\n",
      bad_input ? "yes" : "no", static_cast<unsigned long long>(outcome.resumed_from),
      peak_rss_kb(), leaked);
  } else {
    std::printf("aggregator done offset=%llu records=%llu resumed_from=%llu peak_rss_kb=%ld "
                "leaked_actors=%ld\n",
                static_cast<unsigned long long>(outcome.final.offset()),
                static_cast<unsigned long long>(outcome.final.records()),
                static_cast<unsigned long long>(outcome.resumed_from), peak_rss_kb(), leaked);
  }
  if (leaked != 0)
    std::_Exit(1);
  if (bad_input)
    return bad_input_exit;
  return outcome.error ? 1 : 0;
}

// -- driver ------------------------------------------------------------------

struct kill_step {
  std::string whom;
  uint32_t percent;
};

std::optional<std::vector<kill_step>> parse_kills(const std::string& text) {
  std::vector<kill_step> steps;
  std::istringstream in{text};
  for (std::string item; std::getline(in, item, ',');) {
    if (item.empty() || item == "none")
      continue;
    auto at = item.find('@');
    if (at == std::string::npos)
      return std::nullopt;
    auto whom = item.substr(0, at);
    if (whom != "reader" && whom != "aggregator")
      return std::nullopt;
    try {
      steps.push_back({whom, static_cast<uint32_t>(std::stoul(item.substr(at + 1)))});
    } catch (...) {
      return std::nullopt;
    }
  }
  return steps;
}

/// After a run on a copy with one bad record: the pipeline must have
/// stopped with a typed error naming that record, and committed every
/// chunk before the bad record's (they all came before the error), with
/// exactly the input's totals up to there (nothing lost, nothing counted
/// twice): then the exit code is `bad_input_exit`.
int report_bad_input(const std::string& input, uint64_t chunk_bytes, uint64_t bad_record,
                     const std::string& error_text, bool malformed,
                     const caf::expected<files::v1::Aggregate>& committed, uint64_t bytes,
                     long peak_rss) {
  bool names_record =
    error_text.find("at offset " + std::to_string(bad_record)) != std::string::npos;
  uint64_t at = committed ? committed->offset() : 0;
  bool before = committed && at <= bad_record;
  // The bad record's chunk starts at the first record boundary at or after
  // its cut: every chunk before it is committed if `at` reached that cut.
  bool all_before = before && at >= bad_record / chunk_bytes * chunk_bytes;
  bool exact = false;
  if (before) {
    // The input's own totals up to there, counted again from the file a
    // chunk at a time (memory stays flat; `at` is a record boundary).
    auto file = files::open_file::open(input);
    files::totals_table table;
    bool counted = static_cast<bool>(file);
    for (uint64_t from = 0; counted && from < at;) {
      auto part =
        (*file)->total_chunk(from, true, std::min(at, from + chunk_bytes), bytes + 1);
      counted = part && part->end() > from;
      if (counted) {
        table.merge(*part);
        from = part->end();
      }
    }
    exact = counted
      && google::protobuf::util::MessageDifferencer::Equals(table.to_aggregate(at, false),
                                                            *committed);
  }
  std::printf("files: stopped by the bad record: %s; committed=%llu (before it: %s, every "
              "chunk before its chunk: %s); committed totals exact: %s\n",
              malformed && names_record ? "yes" : "no", static_cast<unsigned long long>(at),
              before ? "yes" : "no", all_before ? "yes" : "no", exact ? "yes" : "no");
  std::printf("files bytes=%llu records=%llu peak_rss_mb=%.1f mb_per_s=0.0 resumed=no "
              "aggregate_ok=no\n",
              static_cast<unsigned long long>(bytes),
              static_cast<unsigned long long>(committed ? committed->records() : 0),
              peak_rss / 1024.0);
  return malformed && names_record && all_before && exact ? bad_input_exit : 1;
}

int run_driver(const files_system_config& cfg,
               const troupe_examples::stop_signals& stop_signals) {
  auto kills = parse_kills(cfg.kill);
  if (!kills) {
    std::cerr << "files: --kill wants whom@percent,... with whom reader or aggregator\n";
    return 2;
  }
  ::mkdir(cfg.dir.c_str(), 0755);
  auto input = cfg.dir + "/input-" + std::to_string(cfg.mb) + "mb.txt";
  auto expected_path = input + ".expected";
  auto expected = files::load(expected_path);
  struct stat st {};
  if (!expected || !expected->complete() || ::stat(input.c_str(), &st) != 0
      || static_cast<uint64_t>(st.st_size) != expected->offset()) {
    std::printf("files: generating %u MiB of records in %s\n", cfg.mb, input.c_str());
    if (auto err = files::generate_input(input, uint64_t{cfg.mb} << 20)) {
      std::cerr << "files: " << to_string(err) << "\n";
      return 1;
    }
    expected = files::load(expected_path);
    ::stat(input.c_str(), &st);
  }
  auto bytes = static_cast<uint64_t>(st.st_size);
  // What the reader serves: the input, or a copy with one bad record.
  auto served = input;
  uint64_t bad_record = 0;
  if (cfg.corrupt_at > 0) {
    served = input + ".corrupt";
    auto at =
      files::write_corrupt_copy(input, served, bytes / 100 * std::min(cfg.corrupt_at, 99u));
    if (!at) {
      std::cerr << "files: " << to_string(at.error()) << "\n";
      return 1;
    }
    bad_record = *at;
    std::printf("files: serving a copy whose record at byte %llu is malformed\n",
                static_cast<unsigned long long>(bad_record));
  }
  // A fresh run: nothing committed.
  ::unlink((cfg.dir + "/checkpoint").c_str());
  ::unlink((cfg.dir + "/result.csv").c_str());

  auto me = troupe_examples::this_program();
  auto life = "--lifetime-s=" + std::to_string(cfg.lifetime_s);
  // Chunks are allocated on one thread and freed on another; glibc then
  // gives each busy thread an arena of its own, and the processes' RSS
  // creeps up with the run's length (24 MB after 64 MiB, 50 MB after
  // 1 GiB) although what they hold stays the same. Two arenas keep RSS
  // flat at the same speed.
  ::setenv("MALLOC_ARENA_MAX", "2", 0);
  long peak_rss = 0;
  auto note_rss = [&](const std::string& line) {
    peak_rss = std::max<long>(peak_rss, static_cast<long>(word_value(line, "peak_rss_kb")));
  };
  std::optional<child_process> reader;
  uint16_t reader_port = 0;
  auto start_reader = [&]() -> bool {
    auto r = child_process::start({me, "--role=reader", "--input=" + served,
                                   "--chunk-kb=" + std::to_string(cfg.chunk_kb), life});
    if (!r)
      return false;
    auto line = r->read_line(10s);
    if (!line || line->rfind("PORT ", 0) != 0)
      return false;
    reader_port = static_cast<uint16_t>(std::stoul(line->substr(5)));
    reader.emplace(std::move(*r));
    return true;
  };
  std::optional<child_process> aggregator;
  auto start_aggregator = [&]() -> bool {
    auto a = child_process::start(
      {me, "--role=aggregator", "--reader-port=" + std::to_string(reader_port),
       "--dir=" + cfg.dir, "--commit-mb=" + std::to_string(cfg.commit_mb), life});
    if (!a)
      return false;
    aggregator.emplace(std::move(*a));
    return true;
  };
  bool cold = cfg.cold_cache && drop_page_cache();
  if (cfg.cold_cache && !cold)
    std::printf("files: cannot drop the page cache (not root?): both runs read warm\n");
  auto started_at = std::chrono::steady_clock::now();
  auto deadline = started_at + std::chrono::seconds{cfg.lifetime_s};
  if (!start_reader() || !start_aggregator()) {
    std::cerr << "files: cannot start the reader and the aggregator\n";
    return 1;
  }
  size_t next_kill = 0;
  uint32_t restarts = 0;
  std::string done_line;
  std::string error_text; // the aggregator's last typed error
  bool malformed = false;
  uint64_t offset = 0;
  // What a line of the aggregator's tells: its progress, its end, its typed
  // error, its memory.
  auto on_aggregator_line = [&](const std::string& line) {
    static const std::string error_prefix = "aggregator error: ";
    if (line.rfind("progress ", 0) == 0)
      offset = word_value(line, "offset");
    else if (line.rfind("aggregator done", 0) == 0)
      done_line = line;
    else if (line.rfind(error_prefix, 0) == 0)
      error_text = line.substr(error_prefix.size());
    note_rss(line);
  };
  auto last_print = started_at;
  while (done_line.empty() && std::chrono::steady_clock::now() < deadline && restarts <= 10) {
    if (auto line = aggregator->read_line(100ms))
      on_aggregator_line(*line);
    auto percent = bytes > 0 ? offset * 100 / bytes : 100;
    if (next_kill < kills->size() && percent >= (*kills)[next_kill].percent) {
      auto& step = (*kills)[next_kill++];
      (step.whom == "reader" ? *reader : *aggregator).signal(SIGKILL);
      std::printf("files: killed the %s (SIGKILL) at %llu%%\n", step.whom.c_str(),
                  static_cast<unsigned long long>(percent));
    }
    auto now = std::chrono::steady_clock::now();
    if (now - last_print >= 1s) {
      auto secs = std::chrono::duration<double>(now - started_at).count();
      auto rate = static_cast<double>(offset) / (1 << 20) / secs;
      std::printf("files: %llu%% (%.0f MiB), %.0f MiB/s, ETA %.0f s\n",
                  static_cast<unsigned long long>(percent),
                  static_cast<double>(offset) / (1 << 20), rate,
                  rate > 0 ? static_cast<double>(bytes - offset) / (1 << 20) / rate : 0.0);
      last_print = now;
    }
    // Restart whatever died: the reader first (the aggregator needs its
    // port), then the aggregator, which resumes from its checkpoint.
    if (!done_line.empty())
      break;
    if (reader->wait(0ms)) {
      std::printf("files: restarting the reader\n");
      if (!start_reader())
        break;
      ++restarts;
    }
    if (auto code = aggregator->wait(0ms)) {
      while (auto line = aggregator->read_line(0ms))
        on_aggregator_line(*line);
      if (!done_line.empty())
        break;
      if (*code == bad_input_exit) {
        std::printf("files: the input is malformed: %s\n", error_text.c_str());
        malformed = true;
        break;
      }
      std::printf("files: the aggregator exited (%d); restarting it\n", *code);
      if (!start_aggregator())
        break;
      ++restarts;
    }
    if (stop_signals.pending())
      break;
  }
  auto seconds =
    std::chrono::duration<double>(std::chrono::steady_clock::now() - started_at).count();
  note_rss(done_line);
  aggregator->wait(10s);
  reader->signal(SIGTERM);
  while (auto line = reader->read_line(10s))
    note_rss(*line);
  reader->wait(10s);

  // Compare the result with what the generator wrote.
  auto result = files::load(cfg.dir + "/checkpoint");
  if (cfg.corrupt_at > 0)
    ::unlink(served.c_str()); // the reader is gone: the copy is no longer needed
  if (malformed || cfg.corrupt_at > 0)
    return report_bad_input(input, uint64_t{cfg.chunk_kb} * 1024, bad_record, error_text,
                            malformed, result, bytes, peak_rss);
  bool ok = !done_line.empty() && result && expected && result->complete()
    && result->offset() == bytes
    && google::protobuf::util::MessageDifferencer::Equals(*result, *expected);
  bool resumed = word_value(done_line, "resumed_from") > 0;
  auto mb = static_cast<double>(bytes) / (1 << 20);
  // The disk's pace for the same file, as `cat` reads it, from the same
  // cache state as the pipeline started with.
  if (cold)
    drop_page_cache();
  auto cat_start = std::chrono::steady_clock::now();
  auto cat_rc = std::system(("cat '" + input + "' > /dev/null").c_str());
  auto cat_s =
    std::chrono::duration<double>(std::chrono::steady_clock::now() - cat_start).count();
  std::printf("files: restarts=%u; cat_mb_per_s=%.0f files_ratio=%.3f (%s page cache)%s\n",
              restarts, mb / cat_s, (mb / seconds) / (mb / cat_s), cold ? "cold" : "warm",
              cat_rc == 0 ? "" : " (cat failed)");
  std::printf("files bytes=%llu records=%llu peak_rss_mb=%.1f mb_per_s=%.1f resumed=%s "
              "aggregate_ok=%s\n",
              static_cast<unsigned long long>(bytes),
              static_cast<unsigned long long>(result ? result->records() : 0),
              peak_rss / 1024.0, mb / seconds, resumed ? "yes" : "no", ok ? "yes" : "no");
  return ok ? 0 : 1;
}

} // namespace

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  troupe_examples::stop_signals stop_signals; // first: every thread inherits the mask
  files_system_config cfg;
  if (auto err = cfg.parse_args(argc, argv)) {
    std::cerr << "troupe-files: " << to_string(err) << "\n";
    return 2;
  }
  if (cfg.cli_helptext_printed)
    return 0;
  if (cfg.role == "driver")
    return run_driver(cfg, stop_signals);
  if (cfg.role != "reader" && cfg.role != "aggregator") {
    std::cerr << "troupe-files: --role must be driver, reader or aggregator\n";
    return 2;
  }
  caf::actor_system sys{cfg};
  return cfg.role == "reader" ? run_reader(sys, cfg, stop_signals)
                              : run_aggregator_process(sys, cfg, stop_signals);
}
