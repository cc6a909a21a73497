// The route tables (src/adapters/http/routes.cpp, admin_routes.cpp) against the routes
// docs/api.md lists: every documented `METHOD /path` is registered exactly once with that
// literal path, the path is spelled nowhere else in src/, the tables have no route the document
// lacks, and both list them in the same order.
#include <gtest/gtest.h>

#include <cctype>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

namespace {

namespace fs = std::filesystem;
using Route = std::pair<std::string, std::string>;  // {"GET", "/api/v1/internal/..."}

std::string read(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

const fs::path kRoot = USERSERVICE_SOURCE_DIR;

// Every `METHOD /path` in backticks, in order of first appearance. Abbreviated paths
// ("…/admin/users") do not start with '/' and are not routes of their own.
std::vector<Route> documented_routes() {
  const std::string doc = read(kRoot / "docs/api.md");
  static const std::regex kRoute("`(GET|HEAD|POST|PUT|PATCH|DELETE) (/[^`\\s]*)`");
  std::vector<Route> out;
  std::set<Route> seen;
  for (std::sregex_iterator it(doc.begin(), doc.end(), kRoute), end; it != end; ++it) {
    Route r{(*it)[1], (*it)[2]};
    if (r.second.find("…") != std::string::npos) continue;
    if (seen.insert(r).second) out.push_back(r);
  }
  return out;
}

// `Method::delete_` → "DELETE".
std::string method_name(std::string token) {
  if (!token.empty() && token.back() == '_') token.pop_back();
  for (char& c : token) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return token;
}

struct Source {
  fs::path path;
  std::string text;
};

std::vector<Source> sources() {
  std::vector<Source> out;
  for (const auto& e : fs::recursive_directory_iterator(kRoot / "src")) {
    const auto ext = e.path().extension();
    if (e.is_regular_file() && (ext == ".cpp" || ext == ".h")) {
      out.push_back({e.path(), read(e.path())});
    }
  }
  return out;
}

// Every `Method::x, "/path"` in src/, in file order (per file), with the file.
std::vector<std::pair<Route, fs::path>> registered_routes(const std::vector<Source>& files) {
  static const std::regex kRow("Method::([a-z_]+),\\s*\"(/[^\"]*)\"");
  std::vector<std::pair<Route, fs::path>> out;
  for (const Source& f : files) {
    for (std::sregex_iterator it(f.text.begin(), f.text.end(), kRow), end; it != end; ++it) {
      out.push_back({{method_name((*it)[1]), (*it)[2]}, f.path});
    }
  }
  return out;
}

std::size_t count(const std::string& text, const std::string& needle) {
  std::size_t n = 0;
  for (auto pos = text.find(needle); pos != std::string::npos; pos = text.find(needle, pos + 1)) {
    ++n;
  }
  return n;
}

TEST(RouteTable, TheDocumentListsTheRoutes) {
  const auto doc = documented_routes();
  // 28 operations on the internal listener, GET and HEAD /metrics on the admin listener.
  EXPECT_EQ(doc.size(), 30u);
}

TEST(RouteTable, EveryDocumentedPathIsSpelledExactlyOnceInSrcPerMethod) {
  const auto files = sources();
  std::map<std::string, std::size_t> methods_per_path;
  for (const auto& [method, path] : documented_routes()) ++methods_per_path[path];
  for (const auto& [path, methods] : methods_per_path) {
    std::size_t n = 0;
    std::vector<std::string> where;
    for (const Source& f : files) {
      const std::size_t k = count(f.text, "\"" + path + "\"");
      if (k > 0) where.push_back(f.path.lexically_relative(kRoot).string());
      n += k;
    }
    EXPECT_EQ(n, methods) << path << ": one row per documented method, and nowhere else; in "
                          << ::testing::PrintToString(where);
  }
}

TEST(RouteTable, EveryDocumentedRouteIsRegisteredExactlyOnce) {
  const auto rows = registered_routes(sources());
  for (const Route& r : documented_routes()) {
    std::size_t n = 0;
    for (const auto& [row, file] : rows) n += row == r ? 1 : 0;
    EXPECT_EQ(n, 1u) << r.first << " " << r.second;
  }
}

TEST(RouteTable, TheTableHasNoRouteTheDocumentLacks) {
  const auto doc = documented_routes();
  const std::set<Route> documented(doc.begin(), doc.end());
  for (const auto& [row, file] : registered_routes(sources())) {
    EXPECT_TRUE(documented.count(row))
        << row.first << " " << row.second << " in " << file << " is not in docs/api.md";
  }
}

TEST(RouteTable, TheTableFollowsTheOrderOfTheDocument) {
  // The internal listener's table, then the admin listener's (docs/api.md, "Routes").
  std::vector<Source> tables;
  for (const char* file : {"src/adapters/http/routes.cpp", "src/adapters/http/admin_routes.cpp"}) {
    tables.push_back({kRoot / file, read(kRoot / file)});
  }
  std::vector<Route> rows;
  for (const auto& [row, file] : registered_routes(tables)) rows.push_back(row);
  EXPECT_EQ(rows, documented_routes());
}

}  // namespace
