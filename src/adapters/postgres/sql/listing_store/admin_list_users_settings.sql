-- name: admin_list_users_settings
-- access: read
--
-- Pipelined before each listing statement, in the same implicit transaction (settings end
-- with it). A custom plan for every execution: the generic plan PostgreSQL switches to after
-- five executions estimates "plan_code = $n" or "ends_at < $n" without the value, and the
-- best plan differs by orders of magnitude between, say, plan_code=free and
-- plan_code=paid_lifetime. No parallel workers: the plans stop after one page of matches,
-- where starting workers costs more than it saves (measured: 93 ms with two workers, 31 ms
-- without, for a 0.3% filter at 1 M accounts).
-- (no parameters)
-- Returns: one row: the two values set.

SELECT set_config('plan_cache_mode', 'force_custom_plan', true),
       set_config('max_parallel_workers_per_gather', '0', true)
