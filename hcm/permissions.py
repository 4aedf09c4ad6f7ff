"""Who may call what. Views name these classes; no view checks roles by hand."""

from typing import TYPE_CHECKING

from rest_framework.exceptions import PermissionDenied
from rest_framework.permissions import BasePermission

if TYPE_CHECKING:
    from django.http import HttpRequest
    from rest_framework.request import Request
    from rest_framework.views import APIView

    from hcm.models import Organization, User


class IsOrganizationMember(BasePermission):
    """Signed in and belonging to an organization (every query is scoped to it)."""

    message = "Your account does not belong to an organization."

    def has_permission(self, request: "Request", view: "APIView") -> bool:
        user = request.user
        return bool(user and user.is_authenticated and getattr(user, "organization_id", None))


class IsSystemAdmin(IsOrganizationMember):
    """A system_admin of their organization: everything under /api/system/."""

    message = "This endpoint requires the system_admin role."

    def has_permission(self, request: "Request", view: "APIView") -> bool:
        if not super().has_permission(request, view):
            # DRF reads `message` after a refusal; say which requirement failed.
            self.message = IsOrganizationMember.message
            return False
        # Anonymous users were refused above; only hcm.User has the role.
        return bool(getattr(request.user, "is_system_admin", False))


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
