"""Who may call what. Views name these classes; no view checks roles by hand."""

from typing import TYPE_CHECKING

from rest_framework.permissions import BasePermission

if TYPE_CHECKING:
    from rest_framework.request import Request
    from rest_framework.views import APIView


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
        return request.user.is_system_admin
