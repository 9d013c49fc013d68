"""The durable upload queue: transactional outbox, leases, retries, deadlines.

Knows nothing of settlements: a job is a kind, a JSON payload, a deadline and an
idempotency key.
"""
