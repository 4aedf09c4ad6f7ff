"""How a channel reports that a message was not accepted."""


class DeliveryError(Exception):
    """Not sent. `permanent`: retrying cannot help (bad address, webhook gone, 4xx).
    `retry_after`: the provider said when to come back (429). Otherwise transient."""

    def __init__(self, message: str, *, permanent: bool = False, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.retry_after = retry_after
