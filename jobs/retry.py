"""The retry schedule: the one place that knows the backoff formula."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings


@dataclass(frozen=True)
class RetryDecision:
    retry_count: int
    retry_at: datetime | None  # None: give up, the job fails

    @property
    def gives_up(self) -> bool:
        return self.retry_at is None


@dataclass(frozen=True)
class RetryPolicy:
    """After the n-th failed attempt (n = retry_count after the increment) the job runs
    again at now + base × 2^(n−1): 2, 4, 8 minutes with the default base of 120 s,
    until more than max_retries attempts have failed."""

    base_seconds: float

    @classmethod
    def from_settings(cls) -> "RetryPolicy":
        return cls(base_seconds=settings.JOBS_RETRY_BASE_SECONDS)

    def delay(self, retry_count: int) -> timedelta:
        return timedelta(seconds=self.base_seconds * 2 ** max(retry_count - 1, 0))

    def after_failure(
        self,
        *,
        retry_count: int,
        max_retries: int,
        now: datetime,
        permanent: bool = False,
        delay_seconds: float | None = None,
        immediate: bool = False,
    ) -> RetryDecision:
        """`retry_count` is the count before this failure."""
        count = retry_count + 1
        if permanent or count > max_retries:
            return RetryDecision(retry_count=count, retry_at=None)
        if immediate:
            return RetryDecision(retry_count=count, retry_at=now)
        # A server that said when to come back (Retry-After) is taken at its word.
        delay = timedelta(seconds=delay_seconds) if delay_seconds is not None else self.delay(count)
        return RetryDecision(retry_count=count, retry_at=now + delay)
