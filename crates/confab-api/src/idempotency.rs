//! `Idempotency-Key` on POST requests (filled in by the idempotency work).
