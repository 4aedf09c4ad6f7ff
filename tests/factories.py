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
