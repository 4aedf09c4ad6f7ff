"""Who may call what: DRF permission classes, composed in the views with `&` and `|`.

- IsOrganizationMember: signed in and belonging to an organization (data is scoped to it).
- IsSystemAdmin: an organization's `system_admin` (everything under /api/system/).
- IsPlatformOperator: may act on what all organizations share (service-scope job types,
  service-wide pauses and schedules): a Django superuser, or a user granted the
  `hcm.operate_platform` permission (directly or through a group).
- ServiceScopeOperatorOnly: a request or object whose scope is "service" needs a platform
  operator; an organization admin gets 403 saying why.
"""

from typing import TYPE_CHECKING, Any

from rest_framework import permissions
from rest_framework.exceptions import PermissionDenied
from rest_framework.permissions import SAFE_METHODS

if TYPE_CHECKING:
    from django.http import HttpRequest
    from rest_framework.request import Request

    from hcm.models import Organization, User

OPERATE_PLATFORM = "hcm.operate_platform"
SERVICE_SCOPE_REFUSED = (
    "{what} acts on what all organizations share (scope: service); only platform operators "
    "(superusers or users with the hcm.operate_platform permission) may do that, in the API or the admin."
)


class _ExplainedAND(permissions.AND):
    """DRF's AND, keeping the refusing operand's `message` (DRF reads the composite's)."""

    def has_permission(self, request: "Request", view: Any) -> bool:
        return self._all(lambda op: op.has_permission(request, view))

    def has_object_permission(self, request: "Request", view: Any, obj: Any) -> bool:
        return self._all(lambda op: op.has_object_permission(request, view, obj))

    def _all(self, check: Any) -> bool:
        for op in (self.op1, self.op2):  # type: ignore[attr-defined]  # set by DRF's AND/OR __init__
            if not check(op):
                self.message = getattr(op, "message", None)
                return False
        return True


class _ExplainedOR(permissions.OR):
    """DRF's OR; when both refuse, the second operand's `message` says why."""

    def has_permission(self, request: "Request", view: Any) -> bool:
        allowed = super().has_permission(request, view)
        if not allowed:
            self.message = getattr(self.op2, "message", None) or getattr(self.op1, "message", None)  # type: ignore[attr-defined]  # set by DRF's AND/OR __init__
        return allowed


class _Operators(permissions.OperationHolderMixin):
    def __and__(self, other: Any) -> permissions.OperandHolder:
        return permissions.OperandHolder(_ExplainedAND, self, other)  # type: ignore[arg-type]

    def __or__(self, other: Any) -> permissions.OperandHolder:
        return permissions.OperandHolder(_ExplainedOR, self, other)  # type: ignore[arg-type]

    def __rand__(self, other: Any) -> permissions.OperandHolder:
        return permissions.OperandHolder(_ExplainedAND, other, self)  # type: ignore[arg-type]

    def __ror__(self, other: Any) -> permissions.OperandHolder:
        return permissions.OperandHolder(_ExplainedOR, other, self)  # type: ignore[arg-type]


class _PermissionMeta(_Operators, permissions.BasePermissionMetaclass):  # type: ignore[misc]  # type's | is for unions
    pass


class BasePermission(permissions.BasePermission, metaclass=_PermissionMeta):
    """DRF's BasePermission whose `&` / `|` compositions keep the refusing class's message."""


def is_platform_operator(user: Any) -> bool:
    """The one rule for platform operators (the API and the admin both ask it)."""
    return bool(user and user.is_authenticated and user.is_active and user.has_perm(OPERATE_PLATFORM))


class IsOrganizationMember(BasePermission):
    message = "Your account does not belong to an organization."

    def has_permission(self, request: "Request", view: Any) -> bool:
        user = request.user
        return bool(user and user.is_authenticated and getattr(user, "organization_id", None))


class IsSystemAdmin(BasePermission):
    message = "This endpoint requires the system_admin role."

    def has_permission(self, request: "Request", view: Any) -> bool:
        if not IsOrganizationMember().has_permission(request, view):
            # DRF reads `message` after a refusal; say which requirement failed.
            self.message = IsOrganizationMember.message
            return False
        # Anonymous users were refused above; only hcm.User has the role.
        return bool(getattr(request.user, "is_system_admin", False))


class IsPlatformOperator(BasePermission):
    message = "This requires a platform operator (a superuser or the hcm.operate_platform permission)."

    def has_permission(self, request: "Request", view: Any) -> bool:
        return is_platform_operator(request.user)


class ReadOnly(BasePermission):
    def has_permission(self, request: "Request", view: Any) -> bool:
        return request.method in SAFE_METHODS


class ServiceScopeOperatorOnly(BasePermission):
    """The view says what a request asks for (`requested_scope(request)`: "service",
    "organization" or None when the input is too broken to tell — validation then answers
    400) and, for an object, `object_scope(obj)`; "service" needs a platform operator."""

    message = SERVICE_SCOPE_REFUSED.format(what="This")

    def has_permission(self, request: "Request", view: Any) -> bool:
        requested = getattr(view, "requested_scope", None)
        scope, what = requested(request) if requested else (None, "")
        return self._allowed(request, scope, what)

    def has_object_permission(self, request: "Request", view: Any, obj: Any) -> bool:
        if request.method in SAFE_METHODS:
            return True
        scope, what = view.object_scope(obj)
        return self._allowed(request, scope, what)

    def _allowed(self, request: "Request", scope: str | None, what: str) -> bool:
        if scope != "service" or is_platform_operator(request.user):
            return True
        self.message = SERVICE_SCOPE_REFUSED.format(what=what or "This")
        return False


def request_user(request: "Request | HttpRequest") -> "User":
    """The caller as the project's User: for views behind IsOrganizationMember (or the
    admin), which have refused anonymous callers already. Typed, unlike request.user."""
    from hcm.models import User

    user = request.user
    if not isinstance(user, User):
        raise PermissionDenied("Sign in first.")
    return user


def request_organization(request: "Request | HttpRequest") -> "Organization":
    """The caller's organization (every query is scoped to it)."""
    organization = request_user(request).organization
    if organization is None:
        raise PermissionDenied(IsOrganizationMember.message)
    return organization
