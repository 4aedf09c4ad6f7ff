"""Serializer fields shared by the API and the job payloads (notifications/job_handlers.py),
kept light: the worker imports them without the API's modules."""

from typing import Any

from rest_framework import serializers

MAX_ID = 2**63 - 1  # what a database integer column holds


class UserIdsField(serializers.Field):
    """A list of user ids (positive integers), checked in one pass: an event may name tens
    of thousands of people, and a ListField of IntegerField costs a field call per id."""

    default_error_messages = {
        "not_a_list": "Must be a list of user ids.",
        "not_an_id": "A valid integer (a user id) is required.",
        "empty": "Name at least one recipient, or leave it out.",
        "too_many": "At most {max} recipients in one event.",
    }

    def __init__(self, *, max_length: int, **kwargs: Any) -> None:
        self.max_length = max_length
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> list[int]:
        if not isinstance(data, list):
            self.fail("not_a_list")
        if not data:
            self.fail("empty")
        if len(data) > self.max_length:
            self.fail("too_many", max=self.max_length)
        for index, value in enumerate(data):
            if type(value) is not int or not 1 <= value <= MAX_ID:  # bool is not an id
                # Named like a ListField's item error: recipients.<index>.
                raise serializers.ValidationError({str(index): [self.error_messages["not_an_id"]]})
        return data

    def to_representation(self, value: Any) -> Any:
        return value
