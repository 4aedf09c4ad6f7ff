"""Organizations and their users."""

from collections.abc import Callable

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils.text import slugify

from hcm.models import Organization, Role, User


def org_user_upsert(
    *,
    org_slug: str,
    username: str,
    password: str,
    email: str = "",
    role: str = Role.MEMBER,
    org_name: str | None = None,
) -> tuple[User, bool]:
    """Create the organization if missing and the user; an existing user gets the new
    password and role. Returns (user, created)."""
    if role not in Role.values:
        raise ValueError(f"role must be one of {', '.join(Role.values)}")
    slug = slugify(org_slug)
    if not slug:
        raise ValueError("organization slug must contain letters or digits")
    _check(User.username_validator, username, "username")
    if email:
        _check(validate_email, email, "email")
    with transaction.atomic():
        org, _ = Organization.objects.get_or_create(slug=slug, defaults={"name": org_name or org_slug})
        existing = User.objects.filter(username=username).first()
        created = existing is None
        if existing is None:
            user = User(username=username)
        elif existing.organization is not None and existing.organization_id != org.pk:
            raise ValueError(f"user {username!r} belongs to another organization ({existing.organization.slug})")
        else:
            user = existing
        user.organization = org
        user.role = role
        if email:
            user.email = email
        _check(lambda value: validate_password(value, user), password, "password")  # AUTH_PASSWORD_VALIDATORS
        user.set_password(password)
        user.save()
    return user, created


def _check(validator: Callable[[str], object], value: str, name: str) -> None:
    try:
        validator(value)
    except ValidationError as exc:
        raise ValueError(f"{name}: {' '.join(exc.messages)}") from exc
