#include "common/percent_decode.h"

#include <algorithm>
#include <boost/url/decode_view.hpp>
#include <boost/url/pct_string_view.hpp>

namespace userservice::common {

bool percent_decode(std::string_view in, std::string& out) {
  // make_pct_string_view refuses a '%' without two hex digits after it and accepts every
  // other byte; decode() with the default options leaves '+' alone.
  const auto pct = boost::urls::make_pct_string_view(in);
  if (!pct) return false;
  // Into `out`'s own buffer: a path param is decoded on every request.
  // (assign() from its iterators would build a temporary string first.)
  const boost::urls::decode_view decoded = **pct;
  out.resize(decoded.size());
  std::copy(decoded.begin(), decoded.end(), out.begin());
  return true;
}

}  // namespace userservice::common
