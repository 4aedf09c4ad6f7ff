"""Filter pieces every app's list endpoints use (django-filter)."""

from typing import Any

import django_filters
from django import forms
from django.core.exceptions import ValidationError

_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}


class StrictNullBooleanField(forms.NullBooleanField):
    """true/false (1/0, yes/no, on/off); anything else is an error, not "no filter"."""

    widget = forms.TextInput  # the raw value, not NullBooleanSelect's silent mapping

    def to_python(self, value: Any) -> bool | None:  # type: ignore[override]  # the stubs forget NullBoolean's None
        if value in (None, ""):
            return None
        text = str(value).strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        raise ValidationError(f'"{value}" is not a boolean. Valid values: true, false.', code="invalid")

    def validate(self, value: bool | None) -> None:
        pass


class StrictBooleanFilter(django_filters.BooleanFilter):
    field_class = StrictNullBooleanField
