"""The operator audit trail: Django admin's LogEntry, also for what is not an add/change/delete.

The admin records adds, changes and deletes by itself; console actions that change state
another way (job actions, the test-email button) call `audit_log`, so the admin's
"Audit log" page and each object's History show who did what, and when.
"""

from django.contrib.admin.models import CHANGE, LogEntry
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
