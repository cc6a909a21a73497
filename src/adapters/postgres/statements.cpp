#include "adapters/postgres/statements.h"

#include <string>

#include "adapters/postgres/pool.h"
#include "telemetry/log.h"

namespace userservice::postgres {

int print_statements(std::FILE* out) {
  std::string line;
  for (const Statement* s : all_statements()) {
    line = "{\"name\":\"";
    telemetry::append_json_escaped(line, s->name);
    line += "\",\"sql\":\"";
    telemetry::append_json_escaped(line, s->sql);
    line += "\"}\n";
    if (std::fwrite(line.data(), 1, line.size(), out) != line.size()) return 1;
  }
  return std::fflush(out) == 0 ? 0 : 1;
}

}  // namespace userservice::postgres
