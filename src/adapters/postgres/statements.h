#pragma once
// Every named statement the PostgreSQL stores run, for tooling: `userservice
// --print-statements` prints them, and bench/ builds its pgbench scripts from that output at
// bench time, so the database-only baseline always runs the service's current SQL.
#include <cstdio>
#include <vector>

namespace userservice::postgres {

struct Statement;

// Each is defined at the very end of the store file that owns the statements.
std::vector<const Statement*> user_store_statements();
std::vector<const Statement*> command_store_statements();
std::vector<const Statement*> idempotency_store_statements();
std::vector<const Statement*> read_sources_statements();  // the replica probe

// All of the above in a stable order (stores in the order listed, then declaration order).
std::vector<const Statement*> all_statements();

// One JSON object per line, {"name":"…","sql":"…"}, in all_statements() order. Returns 0, or
// 1 when writing to `out` failed.
int print_statements(std::FILE* out);

}  // namespace userservice::postgres
