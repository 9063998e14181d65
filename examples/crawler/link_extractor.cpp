#include "link_extractor.hpp"

#include <algorithm>
#include <cctype>
#include <memory>
#include <unordered_set>

#include <curl/curl.h>
#include <gumbo.h>

namespace crawler {

namespace {

struct url_handle {
  CURLU* u = curl_url();
  url_handle() = default;
  explicit url_handle(CURLU* x) : u(x) {}
  url_handle(const url_handle&) = delete;
  url_handle& operator=(const url_handle&) = delete;
  ~url_handle() {
    curl_url_cleanup(u);
  }
};

/// `href` resolved against `base` (parsed once per page), in one spelling
/// per page: no fragment, the host in lower case, no default port. Empty if
/// it is not an http(s) URL.
std::string resolve(const url_handle& base, const char* href) {
  url_handle url{curl_url_dup(base.u)};
  if (!url.u || curl_url_set(url.u, CURLUPART_URL, href, 0) != CURLUE_OK)
    return {};
  curl_url_set(url.u, CURLUPART_FRAGMENT, nullptr, 0);
  char* scheme = nullptr;
  char* host = nullptr;
  char* full = nullptr;
  std::string result;
  if (curl_url_get(url.u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK
      && (std::string{scheme} == "http" || std::string{scheme} == "https")
      && curl_url_get(url.u, CURLUPART_HOST, &host, 0) == CURLUE_OK) {
    std::string lower = host;
    std::transform(lower.begin(), lower.end(), lower.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (curl_url_set(url.u, CURLUPART_HOST, lower.c_str(), 0) == CURLUE_OK
        && curl_url_get(url.u, CURLUPART_URL, &full, CURLU_NO_DEFAULT_PORT) == CURLUE_OK)
      result = full;
  }
  curl_free(scheme);
  curl_free(host);
  curl_free(full);
  return result;
}

/// Walks the tree with its own stack: a hostile page nested a million deep
/// must not overflow the thread's.
void collect(const GumboNode* root, const url_handle& base, std::vector<std::string>& out) {
  std::unordered_set<std::string> seen;
  std::vector<const GumboNode*> todo{root};
  while (!todo.empty()) {
    const auto* node = todo.back();
    todo.pop_back();
    if (node->type != GUMBO_NODE_ELEMENT)
      continue;
    if (node->v.element.tag == GUMBO_TAG_A) {
      if (auto* href = gumbo_get_attribute(&node->v.element.attributes, "href")) {
        auto url = resolve(base, href->value);
        if (!url.empty() && seen.insert(url).second)
          out.push_back(std::move(url));
      }
    }
    const GumboVector& children = node->v.element.children;
    for (unsigned i = children.length; i > 0; --i) // document order
      todo.push_back(static_cast<const GumboNode*>(children.data[i - 1]));
  }
}

} // namespace

std::vector<std::string> extract_links(const std::string& html, const std::string& base_url) {
  std::unique_ptr<GumboOutput, void (*)(GumboOutput*)> doc{
    gumbo_parse_with_options(&kGumboDefaultOptions, html.data(), html.size()),
    [](GumboOutput* out) { gumbo_destroy_output(&kGumboDefaultOptions, out); }};
  std::vector<std::string> links;
  url_handle base;
  if (!base.u || curl_url_set(base.u, CURLUPART_URL, base_url.c_str(), 0) != CURLUE_OK)
    return links; // no base to resolve against
  collect(doc->root, base, links);
  return links;
}

} // namespace crawler
