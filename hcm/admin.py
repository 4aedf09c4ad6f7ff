from django.contrib import admin
from django.contrib.auth.admin import UserAdmin
from rest_framework_simplejwt.token_blacklist.admin import OutstandingTokenAdmin
from rest_framework_simplejwt.token_blacklist.models import OutstandingToken

from hcm.models import Organization, User


class UserInline(admin.TabularInline):
    model = User
    fields = ["username", "email", "role", "is_active"]
    readonly_fields = ["username"]
    extra = 0
    show_change_link = True
    can_delete = False


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "id", "timezone", "created_at"]
    search_fields = ["name", "slug", "id"]
    prepopulated_fields = {"slug": ["name"]}
    readonly_fields = ["id", "created_at"]
    inlines = [UserInline]


@admin.register(User)
class OrgUserAdmin(UserAdmin):
    list_display = ["username", "email", "organization", "role", "is_active", "is_superuser", "last_login"]
    list_filter = ["organization", "role", "is_active", "is_superuser"]
    list_select_related = ["organization"]
    fieldsets = [
        *(UserAdmin.fieldsets or []),
        ("Organization", {"fields": ["organization", "role"]}),
    ]
    add_fieldsets = [
        *UserAdmin.add_fieldsets,
        ("Organization", {"fields": ["organization", "role"]}),
    ]


admin.site.unregister(OutstandingToken)


@admin.register(OutstandingToken)
class OutstandingTokenNoSecretAdmin(OutstandingTokenAdmin):
    """simplejwt's read-only page of issued refresh tokens, without the token itself:
    an unexpired refresh token is a credential."""

    exclude = ["token"]

    def get_readonly_fields(self, *args, **kwargs) -> list[str]:
        return [name for name in super().get_readonly_fields(*args, **kwargs) if name != "token"]


from hcm import admin_audit  # noqa: E402, F401 -- registers the read-only audit log page
