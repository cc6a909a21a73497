-- 0005: the deadline guard of batched writes. When every pool connection is busy, several
-- waiting requests share one round trip, each in its own transaction (docs/architecture.md,
-- "Batching under saturation"). A write queued behind another request's slow transaction
-- could reach the server after its own caller was already answered 504; it then runs this
-- first and rolls back instead of committing a change nobody is waiting for.
--
-- deadline_us is the caller's deadline on the service's wall clock (µs since the epoch); clock
-- skew between the service and the database host shifts the guard by that skew.
CREATE FUNCTION "user".deadline_guard(deadline_us bigint) RETURNS void
    LANGUAGE plpgsql VOLATILE AS $$
BEGIN
  IF clock_timestamp() > "user".from_epoch_us(deadline_us) THEN
    RAISE EXCEPTION 'request deadline passed before the transaction started'
      USING ERRCODE = 'UD001';
  END IF;
END
$$;
