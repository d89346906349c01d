"""In-process fakes of external services, for tests that must never reach the internet."""
