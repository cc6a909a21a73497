#pragma once
// A blocking HTTP/1.1 client on a raw socket, for tests: it can send arbitrary bytes (malformed
// requests, half headers, slow sends) and parses whatever comes back. Beast stays in the .cpp.
#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace userservice::testing {

struct HttpResponse {
  unsigned status = 0;
  std::map<std::string, std::string> headers;  // lower-cased names; repeated ones joined by ", "
  std::string body;
  std::string header(const std::string& lower_name) const;  // "" if absent
};

class HttpClient {
 public:
  explicit HttpClient(int port);  // connects to 127.0.0.1:port; throws std::system_error
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;
  HttpClient(HttpClient&& other) noexcept;
  HttpClient& operator=(HttpClient&& other) noexcept;

  // Sends one request on the keep-alive connection and reads its response. Adds Host,
  // Content-Length (when there is a body or the method is POST/PUT/PATCH) and
  // Content-Type: application/json (when there is a body) unless `headers` has them (any case).
  // Reconnects first if the previous response said "Connection: close" or the peer was seen
  // closing. If the server answers early and resets while the body is still being sent (413),
  // that answer is returned. Throws std::runtime_error if no complete response arrives within
  // 10 s or the peer closes first.
  HttpResponse request(std::string method, std::string target, std::string body = "",
                       std::map<std::string, std::string> headers = {});

  // Sends bytes as they are on the current connection (never reconnects, even after
  // "Connection: close": call reconnect() first). Throws std::system_error (e.g. peer reset).
  void send_raw(std::string_view bytes);
  // Reads the next response; nullopt on timeout. Throws std::runtime_error if the peer closes
  // before a complete response or sends something that is not HTTP.
  std::optional<HttpResponse> read_response(
      std::chrono::milliseconds timeout = std::chrono::seconds(5));
  // True if the server closed the connection within the timeout (bytes that arrive meanwhile
  // are kept for read_response).
  bool closed_by_peer(std::chrono::milliseconds timeout);
  void reconnect();
  // Bytes received but not yet consumed by read_response.
  const std::string& pending_bytes() const { return buffer_; }
  int port() const { return port_; }

 private:
  void connect_now();
  void close_now() noexcept;
  // Appends whatever arrives before the deadline. Returns bytes read, 0 on EOF, -1 on timeout.
  long receive_some(std::chrono::steady_clock::time_point deadline);

  int port_ = 0;
  int fd_ = -1;
  std::string buffer_;
  bool eof_ = false;
  bool must_reconnect_ = false;
  bool expect_head_ = false;  // a response to HEAD has no body, whatever Content-Length says
};

// One-shot helper: a new connection, one request.
HttpResponse http(int port, std::string method, std::string target, std::string body = "",
                  std::map<std::string, std::string> headers = {});

}  // namespace userservice::testing
