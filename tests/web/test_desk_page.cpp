// The risk desk page (web/desk.html, docs/design.md 8.12) as the binary holds it: byte for byte
// the file in the source tree, self-contained (a desk may have no internet, and a script from a CDN
// would run someone else's code with the desk's bearer token), and with the element ids the
// Chromium test (tests/web/desk_page_chromium.py) and users' own scrapers read.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <string>
#include <string_view>

#include "desk_page.hpp"
#include "test_support.hpp"

namespace msync {
namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

std::string_view embedded_page() {
  return std::string_view(desk_page_html, desk_page_html_size);
}

TEST(desk_page, the_embedded_page_is_web_desk_html_byte_for_byte) {
  const std::string file = test::read_file(test::source_dir() / "web" / "desk.html");
  ASSERT_FALSE(file.empty());
  ASSERT_EQ(desk_page_html_size, file.size());
  EXPECT_TRUE(embedded_page() == file) << "rebuild: the generated desk_page.hpp is stale";
  EXPECT_EQ(desk_page_html[desk_page_html_size], '\0');
}

// Every way a page reaches beyond the server that served it: an absolute URL (http, https,
// protocol-relative in an attribute), an external script, style sheet, font, image or frame. The
// page talks to its own origin with relative paths (fetch("/v1/...")) only.
TEST(desk_page, loads_nothing_from_outside_the_server) {
  const std::string page = lower(embedded_page());
  for (const char* needle :
       {"http:", "https:", "ftp:", "src=", "href=", "srcset", "@import", "url(", "<link", "<iframe",
        "<object", "<embed", "<img", "import(", "importscripts", "=\"//", "='//"}) {
    EXPECT_EQ(page.find(needle), std::string::npos) << "web/desk.html contains '" << needle << "'";
  }
  // Its only requests: the three API paths of docs/design.md 8.12, on the same origin.
  for (const char* path :
       {"\"/v1/summary\"", "\"/v1/history\"", "\"/v1/accounts?order=health&limit=10\""}) {
    EXPECT_NE(page.find(path), std::string::npos) << path;
  }
}

TEST(desk_page, has_the_elements_the_desk_and_its_tests_read) {
  const std::string_view page = embedded_page();
  for (const char* id :
       {"count-ok", "count-preemptive", "count-margin_call", "count-liquidate",
        "count-liquidation_held", "stream-time", "updates", "backend", "method", "scenarios",
        "chart-tick", "chart-risk", "chart-staleness", "oracles", "closest", "conn"}) {
    EXPECT_NE(page.find("id=\"" + std::string(id) + "\""), std::string_view::npos) << id;
  }
  EXPECT_NE(page.find("dataset.loaded = \"1\""), std::string_view::npos);
  EXPECT_NE(page.find("\"Bearer \""), std::string_view::npos)
      << "?token= is sent as a bearer token";
}

}  // namespace
}  // namespace msync
