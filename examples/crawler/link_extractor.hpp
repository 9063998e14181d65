#pragma once

// Finds the links of an HTML page with gumbo (Debian's libgumbo-dev, an
// HTML5 parser) and makes them absolute against the page's URL with curl's
// URL API, fragments dropped. Blocking, CPU-bound work: the fetcher runs it
// on its blocking pool, never on the scheduler's threads.

#include <string>
#include <vector>

namespace crawler {

/// The distinct absolute http(s) links of `html`, a page at `base_url`.
std::vector<std::string> extract_links(const std::string& html, const std::string& base_url);

} // namespace crawler
