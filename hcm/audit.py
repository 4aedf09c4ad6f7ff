"""The operator audit trail: Django admin's LogEntry, also for what is not an add/change/delete.

The admin records adds, changes and deletes by itself; console actions that change state
another way (job actions, the test-email button) call `audit_log`, so the admin's
"Audit log" page and each object's History show who did what, and when.
"""

from typing import cast

from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.contenttypes.models import ContentType
from django.db.models import Model
from django.http import HttpRequest


def audit_log(request: HttpRequest, obj: Model, message: str) -> LogEntry:
    """Record that `request.user` did `message` to `obj`, now (a CHANGE entry)."""
    if request.user.pk is None:
        raise ValueError("audit_log needs a signed-in user")
    return LogEntry.objects.log_actions(
        user_id=request.user.pk,
        queryset=[obj],
        action_flag=CHANGE,
        change_message=message,
        single_object=True,
    )


def audit_log_rows(request: HttpRequest, model: type[Model], *, summary: str, message: str) -> LogEntry:
    """Record an action over many rows of `model` (a bulk action by filter) as one entry:
    `summary` names what was touched ("10000 background jobs"), `message` says what and how."""
    return LogEntry.objects.create(
        user_id=cast(int, request.user.pk),  # a signed-in operator
        content_type_id=ContentType.objects.get_for_model(model, for_concrete_model=False).pk,
        object_id=None,
        object_repr=summary[:200],
        action_flag=CHANGE,
        change_message=message,
    )
