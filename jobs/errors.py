"""Exceptions a handler may raise to steer what happens after a failed attempt."""


class PermanentJobError(Exception):
    """Retrying cannot help (bad address, 404 from a webhook): fail now, keep no retries."""


class RetryJobAfter(Exception):
    """Retry no sooner than `delay_seconds` from now (e.g. a 429 with Retry-After)."""

    def __init__(self, message: str, *, delay_seconds: float) -> None:
        super().__init__(message)
        self.delay_seconds = delay_seconds


class JobAborted(Exception):
    """Raised inside a handler at a progress check when the job must stop running:
    cancelled, timed out, or no longer held by this worker. Never retried by itself."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
