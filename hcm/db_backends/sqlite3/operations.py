from datetime import UTC, datetime
from typing import Any

from django.db.backends.sqlite3 import operations


class DatabaseOperations(operations.DatabaseOperations):
    def adapt_datetimefield_value(self, value: Any) -> Any:
        # The common case, an aware UTC datetime (timezone.now()) for a UTC connection,
        # without Django's generic checks and conversion: the same text, str(naive value),
        # in a third of the time (the worker adapts one per finished job).
        if value.__class__ is datetime and value.tzinfo is UTC and self.connection.timezone is UTC:
            return value.isoformat(" ")[:-6]  # "+00:00" off
        return super().adapt_datetimefield_value(value)
