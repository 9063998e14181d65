#include "etcd_client.hpp"

#include <algorithm>
#include <chrono>
#include <mutex>

#include <curl/curl.h>
#include <google/protobuf/util/json_util.h>

#include "troupe/cluster/cluster_errc.hpp"

namespace troupe::cluster::internal {

namespace {

namespace pbjson = google::protobuf::util;

void global_init() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

size_t append(char* data, size_t size, size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

std::string to_json(const google::protobuf::Message& msg) {
  pbjson::JsonPrintOptions opts;
  opts.preserve_proto_field_names = true;
  std::string out;
  (void)pbjson::MessageToJsonString(msg, &out, opts);
  return out;
}

caf::error unreachable(const std::string& what) {
  return caf::make_error(cluster_errc::membership_unreachable, what);
}

template <class Message>
caf::expected<Message> parse(const std::string& json, const char* what) {
  Message result;
  pbjson::JsonParseOptions opts;
  opts.ignore_unknown_fields = true;
  if (!pbjson::JsonStringToMessage(json, &result, opts).ok())
    return unreachable(std::string{"etcd answered "} + what
                       + " with something else: " + json.substr(0, 200));
  return result;
}

long millis(caf::timespan x) {
  return static_cast<long>(std::chrono::duration_cast<std::chrono::milliseconds>(x).count());
}

/// The state of one watch stream: bytes not yet forming a whole line.
struct watch_state {
  std::string buffer;
  const std::atomic<bool>* stop = nullptr;
  const std::function<bool(const etcd::WatchResponse&)>* on_response = nullptr;
  caf::error failure;
  /// `on_response` asked to end the stream.
  bool done = false;
};

size_t on_watch_bytes(char* data, size_t size, size_t n, void* user) {
  auto* st = static_cast<watch_state*>(user);
  st->buffer.append(data, size * n);
  // The gateway sends one JSON object per line.
  for (auto nl = st->buffer.find('\n'); nl != std::string::npos; nl = st->buffer.find('\n')) {
    auto line = st->buffer.substr(0, nl);
    st->buffer.erase(0, nl + 1);
    if (line.find_first_not_of(" \r\t") == std::string::npos)
      continue;
    auto parsed = parse<etcd::WatchResult>(line, "a watch");
    if (!parsed) {
      st->failure = std::move(parsed.error());
      return 0; // ends the transfer
    }
    if (parsed->has_error()) {
      st->failure = unreachable("etcd's watch failed: " + parsed->error().message());
      return 0;
    }
    if (!(*st->on_response)(parsed->result())) {
      st->done = true;
      return 0;
    }
  }
  return size * n;
}

int on_watch_progress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  auto* st = static_cast<watch_state*>(user);
  return st->stop->load() ? 1 : 0;
}

} // namespace

std::string prefix_end(const std::string& prefix) {
  auto end = prefix;
  while (!end.empty()) {
    auto& last = reinterpret_cast<unsigned char&>(end.back());
    if (last < 0xff) {
      ++last;
      return end;
    }
    end.pop_back();
  }
  return std::string(1, '\0'); // every key
}

etcd_client::etcd_client(std::vector<std::string> endpoints, caf::timespan request_timeout)
  : endpoints_(std::move(endpoints)), timeout_(request_timeout) {
  global_init();
  curl_ = curl_easy_init();
}

etcd_client::~etcd_client() {
  curl_easy_cleanup(static_cast<CURL*>(curl_));
}

const std::string& etcd_client::endpoint() const noexcept {
  return endpoints_[current_];
}

caf::expected<std::string> etcd_client::post(const std::string& path,
                                             const std::string& body) {
  auto* h = static_cast<CURL*>(curl_);
  caf::error last;
  // One try per endpoint, starting with the one that answered last.
  for (size_t k = 0; k < endpoints_.size(); ++k) {
    auto index = (current_ + k) % endpoints_.size();
    auto url = endpoints_[index] + path;
    std::string response;
    curl_easy_reset(h);
    curl_easy_setopt(h, CURLOPT_URL, url.c_str());
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body.c_str());
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, &append);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &response);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, millis(timeout_));
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    auto rc = curl_easy_perform(h);
    if (rc != CURLE_OK) {
      last = unreachable(url + ": " + curl_easy_strerror(rc));
      continue;
    }
    current_ = index;
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    if (status != 200) {
      auto err = parse<etcd::UnaryError>(response, "an error");
      return unreachable(url + ": HTTP " + std::to_string(status) + ": "
                         + (err ? err->message() : response.substr(0, 200)));
    }
    return response;
  }
  return last;
}

caf::expected<int64_t> etcd_client::grant(caf::timespan ttl) {
  etcd::LeaseGrantRequest req;
  req.set_ttl(std::chrono::duration_cast<std::chrono::seconds>(ttl).count());
  auto body = post("/v3/lease/grant", to_json(req));
  if (!body)
    return body.error();
  auto res = parse<etcd::LeaseGrantResponse>(*body, "a lease grant");
  if (!res)
    return res.error();
  if (res->id() == 0)
    return unreachable("etcd granted no lease: " + res->error());
  return res->id();
}

caf::expected<int64_t> etcd_client::keep_alive(int64_t lease) {
  // The gateway runs one keep-alive per request (the stream ends with the
  // request body).
  etcd::LeaseKeepAliveRequest req;
  req.set_id(lease);
  auto body = post("/v3/lease/keepalive", to_json(req));
  if (!body)
    return body.error();
  auto res = parse<etcd::LeaseKeepAliveResult>(*body, "a keep-alive");
  if (!res)
    return res.error();
  if (res->has_error())
    return unreachable("etcd's keep-alive failed: " + res->error().message());
  return res->result().ttl();
}

caf::error etcd_client::revoke(int64_t lease) {
  etcd::LeaseRevokeRequest req;
  req.set_id(lease);
  auto body = post("/v3/lease/revoke", to_json(req));
  return body ? caf::error{} : std::move(body.error());
}

caf::expected<bool> etcd_client::create(const std::string& key, const std::string& value,
                                        int64_t lease) {
  etcd::TxnRequest req;
  auto* cmp = req.add_compare();
  cmp->set_target(etcd::Compare::CREATE);
  cmp->set_result(etcd::Compare::EQUAL);
  cmp->set_key(key);
  cmp->set_create_revision(0);
  auto* put = req.add_success()->mutable_request_put();
  put->set_key(key);
  put->set_value(value);
  put->set_lease(lease);
  auto body = post("/v3/kv/txn", to_json(req));
  if (!body)
    return body.error();
  auto res = parse<etcd::TxnResponse>(*body, "a transaction");
  if (!res)
    return res.error();
  return res->succeeded();
}

caf::error etcd_client::put(const std::string& key, const std::string& value, int64_t lease) {
  etcd::PutRequest req;
  req.set_key(key);
  req.set_value(value);
  req.set_lease(lease);
  auto body = post("/v3/kv/put", to_json(req));
  return body ? caf::error{} : std::move(body.error());
}

caf::expected<etcd::RangeResponse> etcd_client::range(const std::string& prefix) {
  etcd::RangeRequest req;
  req.set_key(prefix);
  req.set_range_end(prefix_end(prefix));
  auto body = post("/v3/kv/range", to_json(req));
  if (!body)
    return body.error();
  return parse<etcd::RangeResponse>(*body, "a range");
}

caf::error
etcd_client::watch(const std::string& prefix, int64_t start_revision,
                   const std::atomic<bool>& stop,
                   const std::function<bool(const etcd::WatchResponse&)>& on_response) {
  etcd::WatchRequest req;
  auto* create = req.mutable_create_request();
  create->set_key(prefix);
  create->set_range_end(prefix_end(prefix));
  create->set_start_revision(start_revision);
  create->set_prev_kv(true);
  auto body = to_json(req);
  auto* h = static_cast<CURL*>(curl_);
  auto url = endpoint() + "/v3/watch";
  watch_state st;
  st.stop = &stop;
  st.on_response = &on_response;
  curl_easy_reset(h);
  curl_easy_setopt(h, CURLOPT_URL, url.c_str());
  curl_easy_setopt(h, CURLOPT_POSTFIELDS, body.c_str());
  curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, &on_watch_bytes);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &st);
  curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, &on_watch_progress);
  curl_easy_setopt(h, CURLOPT_XFERINFODATA, &st);
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, millis(timeout_));
  // A watch is quiet while nothing changes; TCP keep-alives, probing after
  // one request timeout of silence, notice a dead or cut-off etcd host
  // within a few timeouts (curl's defaults wait a minute).
  auto probe_s = std::max(1L, millis(timeout_) / 1000);
  curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(h, CURLOPT_TCP_KEEPIDLE, probe_s);
  curl_easy_setopt(h, CURLOPT_TCP_KEEPINTVL, probe_s);
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  auto rc = curl_easy_perform(h);
  if (st.failure)
    return st.failure;
  if (stop.load() || st.done)
    return caf::error{};
  if (rc != CURLE_OK)
    return unreachable(url + ": " + curl_easy_strerror(rc));
  return unreachable(url + ": the watch stream ended");
}

} // namespace troupe::cluster::internal
