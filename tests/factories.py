"""Objects tests need, made through the same services the product uses."""

import itertools

from hcm.models import Organization, Role, User
from hcm.services import org_user_upsert

_seq = itertools.count(1)

PASSWORD = "correct-horse-battery-staple"


def make_org(slug: str | None = None, **fields) -> Organization:
    slug = slug or f"org-{next(_seq)}"
    org, _ = Organization.objects.get_or_create(slug=slug, defaults={"name": slug.title(), **fields})
    return org


def make_user(org: Organization, *, role: str = Role.MEMBER, username: str | None = None, email: str = "") -> User:
    username = username or f"user{next(_seq)}"
    user, _ = org_user_upsert(
        org_slug=org.slug, username=username, password=PASSWORD, email=email or f"{username}@example.com", role=role
    )
    return user


def make_platform_operator(user: User) -> User:
    """Grant `hcm.operate_platform` (what an operator does in the admin's user page)."""
    from django.contrib.auth.models import Permission

    user.user_permissions.add(Permission.objects.get(codename="operate_platform", content_type__app_label="hcm"))
    return User.objects.get(pk=user.pk)  # a fresh instance: permissions are cached per object
