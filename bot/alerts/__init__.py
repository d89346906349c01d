"""Staff alerts: one client class per outside system, and the worker that drains the outbox."""
