#include "support/prom_parser.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <set>
#include <sstream>
#include <unordered_map>

#include "support/protobuf_reader.h"

namespace userservice::testing {

namespace {

bool is_blank(char c) { return c == ' ' || c == '\t'; }

bool name_start(char c, bool metric) {
  return std::isalpha(static_cast<unsigned char>(c)) || c == '_' || (metric && c == ':');
}
bool name_char(char c, bool metric) {
  return name_start(c, metric) || std::isdigit(static_cast<unsigned char>(c));
}

bool valid_metric_name(std::string_view s) {
  if (s.empty() || !name_start(s[0], true)) return false;
  return std::all_of(s.begin(), s.end(), [](char c) { return name_char(c, true); });
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

// Go's strconv.ParseFloat, decimal forms: [+-] digits [. digits] [e [+-] digits], ".5", "5.",
// and case-insensitive Inf/Infinity/NaN (with an optional sign for Inf). Hex floats and digit
// separators are not accepted.
std::optional<double> parse_go_float(std::string_view s) {
  std::string_view body = s;
  bool negative = false;
  if (!body.empty() && (body[0] == '+' || body[0] == '-')) {
    negative = body[0] == '-';
    body.remove_prefix(1);
  }
  if (iequals(body, "inf") || iequals(body, "infinity")) return negative ? -INFINITY : INFINITY;
  if (iequals(s, "nan")) return std::nan("");
  std::size_t i = 0, digits = 0;
  while (i < body.size() && std::isdigit(static_cast<unsigned char>(body[i]))) ++i, ++digits;
  if (i < body.size() && body[i] == '.') {
    ++i;
    while (i < body.size() && std::isdigit(static_cast<unsigned char>(body[i]))) ++i, ++digits;
  }
  if (digits == 0) return std::nullopt;
  if (i < body.size() && (body[i] == 'e' || body[i] == 'E')) {
    ++i;
    if (i < body.size() && (body[i] == '+' || body[i] == '-')) ++i;
    std::size_t exp_digits = 0;
    while (i < body.size() && std::isdigit(static_cast<unsigned char>(body[i]))) ++i, ++exp_digits;
    if (exp_digits == 0) return std::nullopt;
  }
  if (i != body.size()) return std::nullopt;
  const std::string copy(s);
  return std::strtod(copy.c_str(), nullptr);
}

// Go's strconv.ParseInt(s, 10, 64): optional sign, decimal digits, within int64.
std::optional<std::int64_t> parse_go_int(std::string_view s) {
  std::string_view digits = s;
  if (!digits.empty() && (digits[0] == '+' || digits[0] == '-')) digits.remove_prefix(1);
  if (digits.empty() || !std::all_of(digits.begin(), digits.end(), [](char c) {
        return std::isdigit(static_cast<unsigned char>(c));
      })) {
    return std::nullopt;
  }
  std::int64_t out = 0;
  const char* begin = s.data() + (s[0] == '+' ? 1 : 0);
  auto [end, ec] = std::from_chars(begin, s.data() + s.size(), out);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return out;
}

std::string series_key(const std::string& name, const std::map<std::string, std::string>& labels,
                       std::string_view skip = {}) {
  std::string key = name;
  for (const auto& [k, v] : labels) {
    if (k == skip) continue;
    key += '\x1f';
    key += k;
    key += '=';
    key += v;
  }
  return key;
}

std::string render_labels(const std::map<std::string, std::string>& labels, std::string_view skip) {
  std::string out = "{";
  for (const auto& [k, v] : labels) {
    if (k == skip) continue;
    if (out.size() > 1) out += ',';
    out += k + "=\"" + v + "\"";
  }
  return out + "}";
}

class Parser {
 public:
  PromParseResult run(std::string_view text) {
    int line_no = 0;
    std::size_t pos = 0;
    while (pos < text.size()) {
      const std::size_t nl = text.find('\n', pos);
      ++line_no;
      std::string_view line = text.substr(pos, nl == std::string_view::npos ? text.npos : nl - pos);
      if (nl == std::string_view::npos) {
        error(line_no, "no_trailing_newline", "the last line must end with a line feed");
        pos = text.size();
      } else {
        pos = nl + 1;
      }
      handle_line(line_no, line);
    }
    finish();
    return std::move(result_);
  }

 private:
  void error(int line, std::string rule, std::string message) {
    result_.errors.push_back({line, std::move(rule), std::move(message)});
  }
  void warning(int line, std::string rule, std::string message) {
    result_.warnings.push_back({line, std::move(rule), std::move(message)});
  }

  void handle_line(int n, std::string_view line) {
    if (line.find('\r') != std::string_view::npos) {
      error(n, "carriage_return", "CR in line (the format uses \\n line endings only)");
      return;
    }
    if (!pb::valid_utf8(line)) {
      error(n, "invalid_utf8", "line is not valid UTF-8");
      return;
    }
    while (!line.empty() && is_blank(line.front())) line.remove_prefix(1);
    while (!line.empty() && is_blank(line.back())) line.remove_suffix(1);
    if (line.empty()) return;
    if (line.front() == '#') {
      comment(n, line.substr(1));
    } else {
      sample(n, line);
    }
  }

  static std::string_view next_token(std::string_view& rest) {
    while (!rest.empty() && is_blank(rest.front())) rest.remove_prefix(1);
    std::size_t end = 0;
    while (end < rest.size() && !is_blank(rest[end])) ++end;
    std::string_view tok = rest.substr(0, end);
    rest.remove_prefix(end);
    return tok;
  }

  // Makes `name` the current family, reporting a family that comes back after another one.
  PromFamily& enter_family(int n, const std::string& name) {
    if (current_ >= 0 && result_.families[current_].name == name) return result_.families[current_];
    auto it = index_.find(name);
    if (it != index_.end()) {
      error(n, "not_contiguous",
            "lines of '" + name + "' resume after another family (first seen at line " +
                std::to_string(result_.families[it->second].line) + ")");
      current_ = static_cast<int>(it->second);
      return result_.families[it->second];
    }
    PromFamily f;
    f.name = name;
    f.line = n;
    if (auto t = declared_types_.find(name); t != declared_types_.end()) f.type = t->second;
    result_.families.push_back(std::move(f));
    index_[name] = result_.families.size() - 1;
    current_ = static_cast<int>(result_.families.size() - 1);
    return result_.families.back();
  }

  void comment(int n, std::string_view rest) {
    const std::string_view keyword = next_token(rest);
    if (keyword != "HELP" && keyword != "TYPE") return;  // an ordinary comment
    const std::string_view name_tok = next_token(rest);
    if (name_tok.empty()) {
      error(n, keyword == "HELP" ? "bad_help" : "bad_type",
            std::string(keyword) + " line without a metric name");
      return;
    }
    const std::string name(name_tok);
    if (!valid_metric_name(name)) {
      error(n, "bad_metric_name", "invalid metric name '" + name + "'");
      return;
    }
    if (keyword == "HELP") {
      while (!rest.empty() && is_blank(rest.front())) rest.remove_prefix(1);
      std::string help;
      for (std::size_t i = 0; i < rest.size(); ++i) {
        if (rest[i] != '\\') {
          help += rest[i];
        } else if (i + 1 < rest.size() && rest[i + 1] == '\\') {
          help += '\\';
          ++i;
        } else if (i + 1 < rest.size() && rest[i + 1] == 'n') {
          help += '\n';
          ++i;
        } else {
          error(n, "bad_escape", "HELP text may only escape \\\\ and \\n");
          break;
        }
      }
      PromFamily& f = enter_family(n, name);
      if (f.help) error(n, "duplicate_help", "second HELP line for '" + name + "'");
      if (!f.samples.empty())
        error(n, "help_after_samples", "HELP for '" + name + "' after its samples");
      f.help = help;
      return;
    }
    const std::string_view type = next_token(rest);
    const std::string_view extra = next_token(rest);
    if (type.empty() || !extra.empty()) {
      error(n, "bad_type", "TYPE takes exactly a metric name and a type");
      return;
    }
    static const std::set<std::string_view> kTypes = {"counter", "gauge", "histogram", "summary",
                                                      "untyped"};
    if (!kTypes.count(type)) {
      error(n, "unknown_type", "unknown type '" + std::string(type) + "'");
      return;
    }
    PromFamily& f = enter_family(n, name);
    if (declared_types_.count(name))
      error(n, "duplicate_type", "second TYPE line for '" + name + "'");
    if (!f.samples.empty())
      error(n, "type_after_samples", "TYPE for '" + name + "' after its samples");
    declared_types_[name] = std::string(type);
    f.type = std::string(type);
  }

  // The family a sample name belongs to: x_bucket/x_sum/x_count belong to histogram x,
  // x/x_sum/x_count to summary x; anything else is its own family.
  std::string family_of(const std::string& name) const {
    auto type_of = [&](const std::string& fam) -> std::string {
      auto it = declared_types_.find(fam);
      return it == declared_types_.end() ? std::string() : it->second;
    };
    if (declared_types_.count(name)) return name;
    for (std::string_view suffix : {"_bucket", "_sum", "_count"}) {
      if (name.size() > suffix.size() && name.ends_with(suffix)) {
        const std::string base = name.substr(0, name.size() - suffix.size());
        const std::string t = type_of(base);
        if (t == "histogram" || (t == "summary" && suffix != "_bucket")) return base;
      }
    }
    return name;
  }

  void sample(int n, std::string_view line) {
    PromSample s;
    s.line = n;
    std::size_t pos = 0;
    while (pos < line.size() && name_char(line[pos], true)) ++pos;
    s.name = std::string(line.substr(0, pos));
    if (!valid_metric_name(s.name)) {
      error(n, "bad_metric_name",
            "invalid metric name at the start of '" + std::string(line) + "'");
      return;
    }
    auto skip_blanks = [&] {
      while (pos < line.size() && is_blank(line[pos])) ++pos;
    };
    skip_blanks();
    if (pos < line.size() && line[pos] == '{') {
      ++pos;
      for (;;) {
        skip_blanks();
        if (pos < line.size() && line[pos] == '}') {
          ++pos;
          break;
        }
        const std::size_t start = pos;
        while (pos < line.size() && name_char(line[pos], false)) ++pos;
        const std::string label(line.substr(start, pos - start));
        if (label.empty() || !name_start(label[0], false)) {
          error(n, "bad_label_name", "invalid label name in '" + std::string(line) + "'");
          return;
        }
        if (label.starts_with("__")) {
          error(n, "reserved_label_name", "label names starting with __ are reserved: " + label);
        }
        skip_blanks();
        if (pos >= line.size() || line[pos] != '=') {
          error(n, "bad_label_value", "expected '=' after label " + label);
          return;
        }
        ++pos;
        skip_blanks();
        if (pos >= line.size() || line[pos] != '"') {
          error(n, "bad_label_value", "label value of " + label + " is not quoted");
          return;
        }
        ++pos;
        std::string value;
        bool closed = false;
        while (pos < line.size()) {
          const char c = line[pos++];
          if (c == '"') {
            closed = true;
            break;
          }
          if (c != '\\') {
            value += c;
            continue;
          }
          if (pos >= line.size()) break;
          const char e = line[pos++];
          if (e == '\\')
            value += '\\';
          else if (e == '"')
            value += '"';
          else if (e == 'n')
            value += '\n';
          else {
            error(n, "bad_escape", std::string("invalid escape \\") + e + " in label " + label);
            return;
          }
        }
        if (!closed) {
          error(n, "bad_label_value", "unterminated label value of " + label);
          return;
        }
        if (!s.labels.emplace(label, value).second) {
          error(n, "duplicate_label", "label " + label + " given twice");
        }
        skip_blanks();
        if (pos < line.size() && line[pos] == ',') {
          ++pos;
          continue;  // a trailing comma before '}' is allowed
        }
        if (pos < line.size() && line[pos] == '}') {
          ++pos;
          break;
        }
        error(n, "bad_label_value", "expected ',' or '}' after label " + label);
        return;
      }
    }
    std::string_view rest = line.substr(pos);
    const std::string_view value_tok = next_token(rest);
    if (value_tok.empty()) {
      error(n, "bad_value", "sample '" + s.name + "' has no value");
      return;
    }
    auto value = parse_go_float(value_tok);
    if (!value) {
      error(n, "bad_value", "invalid value '" + std::string(value_tok) + "'");
      return;
    }
    s.value = *value;
    const std::string_view ts_tok = next_token(rest);
    if (!ts_tok.empty()) {
      auto ts = parse_go_int(ts_tok);
      if (!ts) {
        error(n, "bad_timestamp", "invalid timestamp '" + std::string(ts_tok) + "'");
        return;
      }
      s.timestamp_ms = *ts;
    }
    if (!next_token(rest).empty()) {
      error(n, "trailing_garbage", "unexpected text after the value and timestamp");
      return;
    }

    const std::string key = series_key(s.name, s.labels);
    if (!series_.insert(key).second) {
      error(n, "duplicate_series",
            "series " + s.name + render_labels(s.labels, "") + " given twice");
    }
    PromFamily& f = enter_family(n, family_of(s.name));
    check_sample(f, s);
    f.samples.push_back(std::move(s));
  }

  void check_sample(const PromFamily& f, const PromSample& s) {
    const std::string& base = f.name;
    if (f.type == "histogram") {
      if (s.name == base + "_bucket") {
        auto le = s.labels.find("le");
        if (le == s.labels.end()) {
          error(s.line, "missing_le", s.name + " without an le label");
        } else if (!parse_go_float(le->second)) {
          error(s.line, "bad_le", "le=\"" + le->second + "\" is not a number");
        }
      } else if (s.name == base + "_sum" || s.name == base + "_count") {
        if (s.labels.count("le")) error(s.line, "unexpected_label", s.name + " must not carry le");
      } else {
        error(s.line, "wrong_sample_name",
              "histogram " + base + " has samples " + base + "_bucket, _sum and _count only, not " +
                  s.name);
      }
      if (s.name != base + "_sum" && s.value < 0) {
        error(s.line, "bucket_not_cumulative", s.name + " is negative");
      }
    } else if (f.type == "summary") {
      if (s.name == base) {
        auto q = s.labels.find("quantile");
        std::optional<double> qv = q == s.labels.end() ? std::nullopt : parse_go_float(q->second);
        if (!qv || !(*qv >= 0 && *qv <= 1)) {
          error(s.line, "bad_quantile", s.name + " needs a quantile label between 0 and 1");
        }
      } else if (s.name == base + "_sum" || s.name == base + "_count") {
        if (s.labels.count("quantile")) {
          error(s.line, "unexpected_label", s.name + " must not carry quantile");
        }
      } else {
        error(s.line, "wrong_sample_name", "summary " + base + " cannot have sample " + s.name);
      }
    } else {
      if (s.name != base) {
        error(s.line, "wrong_sample_name", f.type + " " + base + " cannot have sample " + s.name);
      }
      if (f.type == "counter" && s.value < 0) {
        error(s.line, "negative_counter", "counter " + s.name + " is negative");
      }
    }
  }

  struct Group {
    const PromSample* first = nullptr;
    std::vector<std::pair<double, const PromSample*>> ordered;  // buckets or quantiles
    const PromSample* sum = nullptr;
    const PromSample* count = nullptr;
  };

  void check_groups(const PromFamily& f) {
    const bool histogram = f.type == "histogram";
    const char* ordered_label = histogram ? "le" : "quantile";
    std::vector<std::string> order;
    std::unordered_map<std::string, Group> groups;
    const std::string ordered_name = f.name + (histogram ? "_bucket" : "");
    for (const auto& s : f.samples) {
      // Samples with a wrong name were reported already; they belong to no series.
      if (s.name != ordered_name && s.name != f.name + "_sum" && s.name != f.name + "_count") {
        continue;
      }
      const std::string key = series_key(f.name, s.labels, ordered_label);
      auto [it, inserted] = groups.try_emplace(key);
      if (inserted) {
        order.push_back(key);
        it->second.first = &s;
      }
      Group& g = it->second;
      if (s.name == f.name + "_sum") {
        g.sum = &s;
      } else if (s.name == f.name + "_count") {
        g.count = &s;
      } else {
        auto v = s.labels.count(ordered_label) ? parse_go_float(s.labels.at(ordered_label))
                                               : std::nullopt;
        if (v) g.ordered.emplace_back(*v, &s);
      }
    }
    for (const auto& key : order) {
      const Group& g = groups.at(key);
      const int line = g.first->line;
      const std::string series = f.name + render_labels(g.first->labels, ordered_label);
      for (std::size_t i = 1; i < g.ordered.size(); ++i) {
        const auto& [prev_bound, prev] = g.ordered[i - 1];
        const auto& [bound, cur] = g.ordered[i];
        if (!(bound > prev_bound)) {
          error(cur->line, histogram ? "le_order" : "quantile_order",
                series + ": " + ordered_label + " values must increase");
        } else if (histogram && cur->value < prev->value) {
          error(cur->line, "bucket_not_cumulative",
                series + ": bucket counts must not decrease (" + std::to_string(prev->value) +
                    " then " + std::to_string(cur->value) + ")");
        }
      }
      if (histogram) {
        const bool has_inf =
            !g.ordered.empty() && std::isinf(g.ordered.back().first) && g.ordered.back().first > 0;
        if (!has_inf) error(line, "missing_inf_bucket", series + ": no le=\"+Inf\" bucket last");
        if (has_inf && g.count && g.ordered.back().second->value != g.count->value) {
          error(g.count->line, "inf_bucket_count_mismatch",
                series + ": +Inf bucket " + std::to_string(g.ordered.back().second->value) +
                    " != _count " + std::to_string(g.count->value));
        }
      }
      if (!g.sum) error(line, "missing_sum", series + ": no " + f.name + "_sum");
      if (!g.count) error(line, "missing_count", series + ": no " + f.name + "_count");
    }
  }

  void finish() {
    for (const auto& f : result_.families) {
      if (f.type == "histogram" || f.type == "summary") check_groups(f);
      if (f.type == "counter" && !f.name.ends_with("_total")) {
        warning(f.line, "counter_without_total", "counter " + f.name + " should end in _total");
      }
      if (!f.help) warning(f.line, "missing_help", f.name + " has no HELP");
    }
  }

  PromParseResult result_;
  std::unordered_map<std::string, std::size_t> index_;
  std::unordered_map<std::string, std::string> declared_types_;
  std::set<std::string> series_;
  int current_ = -1;
};

}  // namespace

std::string PromSample::label(const std::string& name) const {
  auto it = labels.find(name);
  return it == labels.end() ? std::string() : it->second;
}

std::vector<const PromSample*> PromFamily::find(
    const std::string& sample_name, const std::map<std::string, std::string>& match) const {
  const std::string& wanted = sample_name.empty() ? name : sample_name;
  std::vector<const PromSample*> out;
  for (const auto& s : samples) {
    if (s.name != wanted) continue;
    const bool all = std::all_of(match.begin(), match.end(), [&](const auto& kv) {
      auto it = s.labels.find(kv.first);
      return it != s.labels.end() && it->second == kv.second;
    });
    if (all) out.push_back(&s);
  }
  return out;
}

const PromFamily* PromParseResult::family(std::string_view name) const {
  for (const auto& f : families) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

std::vector<std::string> PromParseResult::family_names() const {
  std::vector<std::string> out;
  for (const auto& f : families) out.push_back(f.name);
  return out;
}

bool PromParseResult::has_error(std::string_view rule) const {
  return std::any_of(errors.begin(), errors.end(),
                     [&](const PromError& e) { return e.rule == rule; });
}

std::string PromParseResult::error_text() const {
  std::ostringstream out;
  for (const auto& e : errors)
    out << "line " << e.line << ": [" << e.rule << "] " << e.message << "\n";
  for (const auto& w : warnings) {
    out << "line " << w.line << ": warning [" << w.rule << "] " << w.message << "\n";
  }
  return out.str();
}

PromParseResult parse_prometheus_text(std::string_view text) { return Parser().run(text); }

}  // namespace userservice::testing
