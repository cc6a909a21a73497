#include "support/http_client.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/buffer.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <stdexcept>
#include <system_error>
#include <utility>

#include "common/utf8.h"

namespace userservice::testing {

namespace beast_http = boost::beast::http;

namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

bool has_header(const std::map<std::string, std::string>& headers, std::string_view lower_name) {
  return std::any_of(headers.begin(), headers.end(),
                     [&](const auto& kv) { return lower(kv.first) == lower_name; });
}

std::string printable(std::string_view bytes, std::size_t max = 200) {
  std::string out;
  for (char c : bytes.substr(0, max)) {
    if (c == '\r') {
      out += "\\r";
    } else if (c == '\n') {
      out += "\\n";
    } else if (std::isprint(static_cast<unsigned char>(c))) {
      out += c;
    } else {
      out += '.';
    }
  }
  if (bytes.size() > max) out += "...";
  return out;
}

}  // namespace

std::string HttpResponse::header(const std::string& lower_name) const {
  auto it = headers.find(lower_name);
  return it == headers.end() ? std::string() : it->second;
}

HttpClient::HttpClient(int port) : port_(port) { connect_now(); }

HttpClient::~HttpClient() { close_now(); }

HttpClient::HttpClient(HttpClient&& other) noexcept { *this = std::move(other); }

HttpClient& HttpClient::operator=(HttpClient&& other) noexcept {
  if (this != &other) {
    close_now();
    port_ = other.port_;
    fd_ = std::exchange(other.fd_, -1);
    buffer_ = std::move(other.buffer_);
    eof_ = other.eof_;
    must_reconnect_ = other.must_reconnect_;
    expect_head_ = other.expect_head_;
  }
  return *this;
}

void HttpClient::connect_now() {
  fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0) throw std::system_error(errno, std::generic_category(), "socket");
  // Each send_raw should leave as its own segment, so "slow send" tests really are slow.
  int one = 1;
  setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port_));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int rc;
  do {
    rc = connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  } while (rc != 0 && errno == EINTR);
  if (rc != 0) {
    int saved = errno;
    close_now();
    throw std::system_error(saved, std::generic_category(),
                            "connect 127.0.0.1:" + std::to_string(port_));
  }
}

void HttpClient::close_now() noexcept {
  if (fd_ >= 0) close(fd_);
  fd_ = -1;
}

void HttpClient::reconnect() {
  close_now();
  buffer_.clear();
  eof_ = false;
  must_reconnect_ = false;
  expect_head_ = false;
  connect_now();
}

void HttpClient::send_raw(std::string_view bytes) {
  if (fd_ < 0) throw std::logic_error("HttpClient: not connected");
  if (bytes.starts_with("HEAD ")) expect_head_ = true;
  while (!bytes.empty()) {
    // MSG_NOSIGNAL: a reset connection is an exception for the test, not SIGPIPE for the binary.
    ssize_t n = send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw std::system_error(errno, std::generic_category(), "HttpClient send");
    }
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
}

long HttpClient::receive_some(std::chrono::steady_clock::time_point deadline) {
  if (eof_) return 0;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    pollfd pfd{fd_, POLLIN, 0};
    int rc = poll(&pfd, 1, static_cast<int>(std::max<long>(left.count(), 0)));
    if (rc < 0) {
      if (errno == EINTR) continue;
      throw std::system_error(errno, std::generic_category(), "HttpClient poll");
    }
    if (rc == 0) return -1;
    char chunk[16384];
    ssize_t n = recv(fd_, chunk, sizeof chunk, 0);
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      // A reset is how some servers close after an error; for the test it is a close.
      if (errno == ECONNRESET || errno == EPIPE) {
        eof_ = true;
        return 0;
      }
      throw std::system_error(errno, std::generic_category(), "HttpClient recv");
    }
    if (n == 0) {
      eof_ = true;
      return 0;
    }
    buffer_.append(chunk, static_cast<std::size_t>(n));
    return n;
  }
}

std::optional<HttpResponse> HttpClient::read_response(std::chrono::milliseconds timeout) {
  if (fd_ < 0) throw std::logic_error("HttpClient: not connected");
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  beast_http::response_parser<beast_http::string_body> parser;
  parser.header_limit(1 << 20);
  parser.body_limit(64ull << 20);
  if (expect_head_) parser.skip(true);

  // Bytes are only dropped from buffer_ once a whole response is parsed, so a timeout in the
  // middle of a response loses nothing: the next call parses it again from the start.
  std::size_t offset = 0;
  while (!parser.is_done()) {
    if (offset < buffer_.size()) {
      boost::system::error_code ec;
      std::size_t used =
          parser.put(boost::asio::buffer(buffer_.data() + offset, buffer_.size() - offset), ec);
      offset += used;
      if (parser.is_done()) break;
      if (ec && ec != beast_http::error::need_more) {
        throw std::runtime_error("HttpClient: not a valid HTTP response (" + ec.message() +
                                 "): " + printable(buffer_));
      }
      if (!ec && used > 0) continue;  // header done; go on with the body
    }
    if (eof_) {
      boost::system::error_code ec;
      if (parser.is_header_done()) parser.put_eof(ec);  // a body delimited by the close
      if (parser.is_header_done() && !ec && parser.is_done()) break;
      throw std::runtime_error(
          "HttpClient: connection closed by peer before a complete response" +
          (buffer_.empty() ? std::string(" (nothing received)") : ": " + printable(buffer_)));
    }
    if (receive_some(deadline) < 0) return std::nullopt;
  }
  buffer_.erase(0, offset);
  expect_head_ = false;

  auto& msg = parser.get();
  HttpResponse out;
  out.status = msg.result_int();
  for (const auto& field : msg) {
    std::string name = lower(field.name_string());
    auto [it, inserted] = out.headers.emplace(name, std::string(field.value()));
    if (!inserted) (it->second += ", ").append(field.value());
  }
  out.body = std::move(msg.body());
  // 1xx responses precede the real one on the same connection; they never close it.
  if (out.status >= 200 && !msg.keep_alive()) must_reconnect_ = true;
  return out;
}

bool HttpClient::closed_by_peer(std::chrono::milliseconds timeout) {
  if (fd_ < 0) return true;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    long n = receive_some(deadline);
    if (n == 0) return true;
    if (n < 0) return false;
  }
}

namespace {

// With USERSERVICE_EXCHANGE_LOG set, every exchange of the internal API made through
// HttpClient::request is appended to that file as one JSON line; after the integration suite,
// tests/node/openapi_validate.js checks each against docs/openapi.yaml (ctest
// openapi_exchanges). Raw sends (send_raw) are malformed on purpose and not recorded.
void record_exchange(const std::string& method, const std::string& target,
                     const std::map<std::string, std::string>& headers, const std::string& body,
                     const HttpResponse& response) {
  static const char* const path = std::getenv("USERSERVICE_EXCHANGE_LOG");
  if (path == nullptr || *path == '\0' || target.rfind("/api/v1/internal/", 0) != 0) return;
  // One write() per line on an O_APPEND descriptor: ctest -j runs several test processes
  // that append to the same file, and stdio's buffered writes interleaved their lines.
  static std::mutex mutex;
  static const int out = ::open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (out < 0) return;
  const auto str = [](std::string& line, std::string_view text) {
    line += '"';
    append_json_escaped(line, text);
    line += '"';
  };
  const auto map = [&](std::string& line, const std::map<std::string, std::string>& m) {
    line += '{';
    bool first = true;
    for (const auto& [k, v] : m) {
      if (!first) line += ',';
      first = false;
      std::string key(k);
      for (char& c : key) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      str(line, key);
      line += ':';
      str(line, v);
    }
    line += '}';
  };
  std::string line = "{\"method\":";
  str(line, method);
  line += ",\"target\":";
  str(line, target);
  line += ",\"request_headers\":";
  map(line, headers);
  line += ",\"request_body\":";
  str(line, body);
  line += ",\"status\":" + std::to_string(response.status) + ",\"response_headers\":";
  map(line, response.headers);
  line += ",\"response_body\":";
  str(line, response.body);
  line += "}\n";
  std::lock_guard lock(mutex);
  for (std::size_t done = 0; done < line.size();) {
    const ssize_t n = ::write(out, line.data() + done, line.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    done += static_cast<std::size_t>(n);
  }
}

}  // namespace

HttpResponse HttpClient::request(std::string method, std::string target, std::string body,
                                 std::map<std::string, std::string> headers) {
  if (must_reconnect_ || eof_ || fd_ < 0) reconnect();
  std::string req;
  req.reserve(256 + body.size());
  req.append(method).append(" ").append(target).append(" HTTP/1.1\r\n");
  if (!has_header(headers, "host")) req.append("Host: 127.0.0.1:" + std::to_string(port_) + "\r\n");
  for (const auto& [name, value] : headers)
    req.append(name).append(": ").append(value).append("\r\n");
  const bool body_method = method == "POST" || method == "PUT" || method == "PATCH";
  if (!has_header(headers, "content-length") && !has_header(headers, "transfer-encoding") &&
      (!body.empty() || body_method)) {
    req.append("Content-Length: " + std::to_string(body.size()) + "\r\n");
  }
  if (!body.empty() && !has_header(headers, "content-type")) {
    req.append("Content-Type: application/json\r\n");
  }
  req.append("\r\n").append(body);
  std::optional<std::system_error> send_error;
  try {
    send_raw(req);
  } catch (const std::system_error& e) {
    send_error = e;  // the server may have answered already (e.g. 413) and closed
  }
  expect_head_ = method == "HEAD";
  std::optional<HttpResponse> response;
  try {
    response = read_response(std::chrono::seconds(10));
  } catch (const std::runtime_error&) {
    if (send_error) throw *send_error;
    throw;
  }
  if (!response) {
    throw std::runtime_error("HttpClient: no response within 10 s to " + method + " " + target);
  }
  record_exchange(method, target, headers, body, *response);
  return std::move(*response);
}

HttpResponse http(int port, std::string method, std::string target, std::string body,
                  std::map<std::string, std::string> headers) {
  HttpClient client(port);
  return client.request(std::move(method), std::move(target), std::move(body), std::move(headers));
}

}  // namespace userservice::testing
