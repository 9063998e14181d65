#include "troupe/http/http_message.hpp"

#include <algorithm>
#include <cctype>
#include <memory>

#include <curl/curl.h>

namespace troupe::http {

namespace {

struct url_deleter {
  void operator()(CURLU* u) const {
    curl_url_cleanup(u);
  }
};

struct curl_string {
  char* text = nullptr;
  ~curl_string() {
    curl_free(text);
  }
};

} // namespace

std::string fetch_key(const http_request& req) {
  std::unique_ptr<CURLU, url_deleter> url{curl_url()};
  if (!url || curl_url_set(url.get(), CURLUPART_URL, req.url.c_str(), 0) != CURLUE_OK)
    return req.url;
  curl_string scheme;
  curl_string host;
  curl_string port;
  if (curl_url_get(url.get(), CURLUPART_SCHEME, &scheme.text, 0) != CURLUE_OK
      || curl_url_get(url.get(), CURLUPART_HOST, &host.text, 0) != CURLUE_OK
      || curl_url_get(url.get(), CURLUPART_PORT, &port.text, CURLU_DEFAULT_PORT) != CURLUE_OK)
    return req.url;
  std::string key = scheme.text;
  key += "://";
  std::string lower = host.text;
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  key += lower;
  key += ':';
  key += port.text;
  return key;
}

} // namespace troupe::http
