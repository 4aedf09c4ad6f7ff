"""Form fields shared by every admin page."""

import json
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.forms.fields import InvalidJSONInput

from hcm import json_guard


class SafeJSONFormField(forms.JSONField):
    """Django's JSON form field with the API's limits (hcm/json_guard.py): what the admin
    saves, every database can store and every page can show again.

    hcm.admin_apps makes it the admin's form field for every models.JSONField.
    """

    def to_python(self, value: Any) -> Any:
        if isinstance(value, str) and value not in self.empty_values and not self.disabled:
            try:
                json_guard.check_depth(value)
            except json_guard.JSONLimitError as exc:
                raise ValidationError(_message(exc.path, exc.message), code="invalid")
            try:
                json.loads(value, cls=self.decoder)
            except ValueError:  # also "too many digits", which Django lets through as a 500
                raise ValidationError(self.error_messages["invalid"], code="invalid", params={"value": value})
        converted = super().to_python(value)
        for path, message in json_guard.problems(converted):
            raise ValidationError(_message(path, message), code="invalid")
        return converted

    def bound_data(self, data: Any, initial: Any) -> Any:
        # Re-showing rejected input must not decode it unguarded (RecursionError).
        if isinstance(data, str) and not self.disabled:
            try:
                json_guard.check_depth(data)
                value = json.loads(data, cls=self.decoder)
            except ValueError:
                return InvalidJSONInput(data)
            if next(json_guard.problems(value), None):  # e.g. a lone surrogate cannot be shown
                return InvalidJSONInput(data)
        return super().bound_data(data, initial)


def _message(path: str, message: str) -> str:
    return f"{path}: {message}" if path else message
