// Link extraction: gumbo finds the anchors, curl's URL API makes them
// absolute; fragments, duplicates and non-HTTP schemes go.

#include <catch2/catch.hpp>

#include <link_extractor.hpp>

using crawler::extract_links;

TEST_CASE("links are made absolute, without fragments, each once", "[examples][crawler]") {
  auto html = R"html(<html><body>
    <a href="/p/1">one</a> <a href="/p/1#top">one again</a>
    <a href="p/2">relative</a> <a href="http://OTHER:81/x?y=1">other host</a>
    <a href="mailto:a@b.c">mail</a> <a>no href</a> <a href="javascript:void(0)">js</a>
    <div><p><a href="../up">nested</a></p></div></body></html>)html";
  auto links = extract_links(html, "http://127.0.0.1:8080/dir/page");
  CHECK(links
        == std::vector<std::string>{"http://127.0.0.1:8080/p/1",
                                    "http://127.0.0.1:8080/dir/p/2", "http://other:81/x?y=1",
                                    "http://127.0.0.1:8080/up"});
}

TEST_CASE("broken HTML and a deep tree are parsed without trouble", "[examples][crawler]") {
  // 2000 levels: gumbo itself slows down sharply with depth (a page's parse
  // is bounded by the fetcher's run_blocking timeout, not by this walker).
  std::string deep;
  for (int i = 0; i < 2000; ++i)
    deep += "<div>";
  deep += "<a href=/deep>x</a><a href=/unclosed";
  auto links = extract_links(deep, "http://h:80/");
  REQUIRE(!links.empty());
  CHECK(links.front() == "http://h/deep");
  CHECK(extract_links("<a href=/x>", "not a url").empty()); // no base, no links
}
