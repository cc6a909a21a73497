#!/usr/bin/env bash
# bench/listing/explain.sh DSN [PAGE_SIZE] [DEPTH]
#
# EXPLAIN (ANALYZE, BUFFERS) of the admin listing's statements on a seeded database
# (bench/listing/seed.sh): every single filter and a few combinations, each for the first
# page and for a later page (the keyset position after DEPTH matching rows, default 1000:
# page 21 at 50 per page; after half the matches when there are fewer). PAGE_SIZE defaults
# to 50, as the route's default.
#
# The statements are bench/listing/sql/admin_list_users_<shape>.sql, byte-for-byte what the
# service prepares (tests/unit/admin_listing_test.cpp fails when they drift), with their
# parameters in the order listed in the matching .params file. The session settings are the
# ones the service pipelines before each page (admin_list_users_settings.sql): custom
# plans, no parallel workers. Each statement runs twice; the second (warm) run is reported,
# with TIMING OFF: per-node clock reads would inflate plans that touch many rows several
# times over (the first run's per-node times are not shown).
#
# Prints every plan, then one summary line per run; exits 1 when any plan has a
# "Seq Scan on accounts" (the listing's index contract, api.md §8).
set -euo pipefail

if [ $# -lt 1 ] || [ $# -gt 3 ]; then
  echo "usage: $0 DSN [PAGE_SIZE] [DEPTH]" >&2
  exit 2
fi
DSN=$1
PAGE=${2:-50}
DEPTH=${3:-1000}
SQL_DIR=$(cd "$(dirname "$0")" && pwd)/sql
PSQL=(psql -X -q -v ON_ERROR_STOP=1 -d "$DSN")
SETTINGS="SET plan_cache_mode = force_custom_plan; SET max_parallel_workers_per_gather = 0;"

NOW_US=$("${PSQL[@]}" -At -c 'SELECT "user".epoch_us(now())')
# Epoch microseconds of now() + a PostgreSQL interval ("-30 days").
at() { "${PSQL[@]}" -At -c "SELECT \"user\".epoch_us(now() + interval '$1')"; }

# label | shape of the first page (hex) | filter values (name=value, space separated; times
# as intervals relative to now). is_paid, plan_code=free and include_deleted are part of
# the shape, as in the service.
CASES=(
  "no filter|000|"
  "include_deleted=true|001|"
  "created_after=now-30d|004|created_after=-30 days"
  "created_before=now-365d|008|created_before=-365 days"
  "created 400d..300d ago|00c|created_after=-400 days created_before=-300 days"
  "declared_country=DE|010|declared_country=DE"
  "declared_country=LI (rare)|010|declared_country=LI"
  "plan_code=free|060|plan_code=free"
  "plan_code=paid_monthly|020|plan_code=paid_monthly"
  "plan_code=paid_lifetime|020|plan_code=paid_lifetime"
  "is_paid=true|180|"
  "is_paid=false|080|"
  "paid_ends_before=now+2d|200|paid_ends_before=2 days"
  "paid_ends_before=now+180d|200|paid_ends_before=180 days"
  "sanction_code=login_block|400|sanction_code=login_block"
  "sanction_code=private_game_create_block|400|sanction_code=private_game_create_block"
  "limit_code=max_owned_private_games|800|limit_code=max_owned_private_games"
  "limit_code=max_pending_public_applications|800|limit_code=max_pending_public_applications"
  "plan_code=paid_yearly & declared_country=DE|030|plan_code=paid_yearly declared_country=DE"
  "sanction_code=login_block & include_deleted|401|sanction_code=login_block"
  "is_paid=true & created_after=now-90d & limit_code=max_active_game_memberships|984|created_after=-90 days limit_code=max_active_game_memberships"
  "declared_country=US & sanction_code=game_join_block & is_paid=false|490|declared_country=US sanction_code=game_join_block"
)

quote() { printf "'%s'" "${1//\'/\'\'}"; }

# The EXECUTE argument list of statement $1 for the filter values in the associative array
# VALUES, the cursor (AFTER_AT, AFTER_ID) and LIMIT.
args_for() {
  local name=$1 out="" p v
  while read -r p; do
    case $p in
      now) v=$NOW_US ;;
      after_created_at) v=$AFTER_AT ;;
      after_user_id) v=$(quote "$AFTER_ID") ;;
      limit) v=$LIMIT ;;
      created_after | created_before | paid_ends_before) v=$(at "${VALUES[$p]}") ;;
      *) v=$(quote "${VALUES[$p]}") ;;
    esac
    out+="${out:+, }$v"
  done < "$SQL_DIR/$name.params"
  echo "$out"
}

statement() { printf 'admin_list_users_%03x' "$1"; }

SUMMARY=()
FLAGGED=0
run() {  # label page shape
  local label=$1 page=$2 shape=$3 name plan exec_ms plan_ms buffers rows scans
  name=$(statement "$shape")
  local args; args=$(args_for "$name")
  plan=$("${PSQL[@]}" -At <<SQL
$SETTINGS
PREPARE s AS $(cat "$SQL_DIR/$name.sql");
EXPLAIN (ANALYZE, BUFFERS) EXECUTE s($args) \g /dev/null
EXPLAIN (ANALYZE, BUFFERS, TIMING OFF) EXECUTE s($args);
SQL
)
  echo "=== $label — $page page ($name)"
  echo "$plan"
  echo
  exec_ms=$(sed -n 's/.*Execution Time: \([0-9.]*\) ms.*/\1/p' <<<"$plan")
  plan_ms=$(sed -n 's/.*Planning Time: \([0-9.]*\) ms.*/\1/p' <<<"$plan")
  buffers=$(grep -m1 'Buffers: shared' <<<"$plan" | sed 's/.*Buffers: shared //')
  rows=$(sed -n '1s/.*(actual rows=\([0-9]*\).*/\1/p' <<<"$plan")
  # The scans of the page query (the decorating join's primary-key lookups left out).
  scans=$(grep -oE '(Seq Scan on [a-z_]+|(Index|Index Only|Bitmap Index) Scan (Backward )?using [a-z_]+)' <<<"$plan" |
    grep -vE '_pkey$' | sed -E 's/ Scan (Backward )?using /:/; s/Seq Scan on /SEQ:/' | sort -u | paste -sd ' ' -)
  local flag=""
  if grep -q 'Seq Scan on accounts' <<<"$plan"; then flag="  <-- SEQ SCAN ON ACCOUNTS"; FLAGGED=1; fi
  SUMMARY+=("$(printf '%-72s %-6s %4s rows %9s ms (plan %6s ms)  %-22s %s%s' \
    "$label" "$page" "$rows" "$exec_ms" "$plan_ms" "${buffers:-}" "$scans" "$flag")")
}

for c in "${CASES[@]}"; do
  IFS='|' read -r label shape spec <<<"$c"
  declare -A VALUES=()
  # spec: name=value pairs; values may contain spaces ("-30 days"), names never do.
  while [[ $spec =~ ^([a-z_]+)=([^=]*)( [a-z_]+=.*)?$ ]]; do
    VALUES[${BASH_REMATCH[1]}]=${BASH_REMATCH[2]}
    spec=${BASH_REMATCH[3]# }
  done
  first=$((16#$shape))
  AFTER_AT="" AFTER_ID="" LIMIT=$((PAGE + 1))
  run "$label" first "$first"
  # The keyset position after DEPTH matches — or after half of them when there are fewer —
  # from the first statement at LIMIT=DEPTH (user_id is column 1, created_at column 7).
  # Fields and rows are split on ASCII unit/record separators: the JSON columns may
  # contain anything else.
  LIMIT=$DEPTH
  matches=$("${PSQL[@]}" -At -F $'\x1f' -R $'\x1e' <<SQL | tr '\036' '\n'
$SETTINGS
PREPARE s AS $(cat "$SQL_DIR/$(statement "$first").sql");
EXECUTE s($(args_for "$(statement "$first")"));
SQL
)
  n=$(grep -c . <<<"$matches" || true)
  if [ "$n" -lt 2 ]; then
    SUMMARY+=("$(printf '%-72s %-6s (fewer than 2 matches: no later page)' "$label" later)")
    continue
  fi
  pos=$((n < DEPTH ? n / 2 : DEPTH))
  last=$(sed -n "${pos}p" <<<"$matches")
  AFTER_ID=$(cut -d $'\x1f' -f 1 <<<"$last")
  AFTER_AT=$(cut -d $'\x1f' -f 7 <<<"$last")
  LIMIT=$((PAGE + 1))
  run "$label" later $((first | 2))
done

echo "=== Summary (page_size $PAGE; later = after min($DEPTH, matches/2) rows; warm runs;"
echo "    buffers of the whole statement; scans of the page query, primary-key lookups left out)"
printf '%s\n' "${SUMMARY[@]}"
if [ $FLAGGED = 1 ]; then
  echo "FAIL: a plan has a sequential scan of accounts" >&2
  exit 1
fi
