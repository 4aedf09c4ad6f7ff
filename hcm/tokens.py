"""Refresh tokens: rotation (the used one is blacklisted) and logout.

Who may hold a token is one rule for access and refresh tokens alike: the user still
exists, is active, and has not changed password since the token was issued. simplejwt's
JWTAuthentication.get_user applies it to access tokens on every request; `token_user`
applies the same code to refresh tokens.
"""

from typing import cast

from django.db import transaction
from django.utils.translation import gettext_lazy as _
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken
from rest_framework_simplejwt.tokens import RefreshToken, Token, UntypedToken
from rest_framework_simplejwt.utils import datetime_from_epoch

from hcm.models import User


class RefreshTokenOfAnotherUser(TokenError):
    """A signed-in user named a refresh token issued to someone else."""


def token_user(*, token: Token) -> User:
    """The user `token` names, if they may still use it; else AuthenticationFailed (401):
    deleted, deactivated, or password changed since the token was issued."""
    return cast(User, JWTAuthentication().get_user(token))  # AUTH_USER_MODEL


def refresh_token_rotate(*, raw: str) -> dict[str, str]:
    """A new access and refresh token for refresh token `raw`, which is blacklisted.

    TokenError if `raw` is invalid, expired or already used (also when a concurrent request
    used it first: the blacklist row is unique, so exactly one of them wins).
    """
    refresh = RefreshToken(raw)  # type: ignore[arg-type]  # a raw token; the stubs miss str  (signature, expiry, type, blacklist)
    user = token_user(token=refresh)
    access = refresh.access_token
    with transaction.atomic():
        if not _blacklist(refresh, raw=raw, user=user):
            raise TokenError(_("Token is blacklisted"))
        refresh.set_jti()
        refresh.set_exp()
        refresh.set_iat()
        refresh.outstand()
    return {"access": str(access), "refresh": str(refresh)}


def refresh_token_revoke(*, raw: str, user: User) -> None:
    """Blacklist refresh token `raw` of `user` (logout). Revoking it again is a no-op.

    TokenError if `raw` is not a valid refresh token; RefreshTokenOfAnotherUser if it was
    issued to someone else.
    """
    token = UntypedToken(raw)  # type: ignore[arg-type]  # a raw token: signature and expiry; not the blacklist, so a repeat is fine
    if token.get(api_settings.TOKEN_TYPE_CLAIM) != RefreshToken.token_type:
        raise TokenError(_("Token has wrong type"))
    if str(token.get(api_settings.USER_ID_CLAIM)) != str(getattr(user, api_settings.USER_ID_FIELD)):
        raise RefreshTokenOfAnotherUser(_("This refresh token belongs to another user."))
    with transaction.atomic():
        _blacklist(token, raw=raw, user=user)


def _blacklist(token: Token, *, raw: str, user: User) -> bool:
    """Add `token` to the blacklist; False if it was already there."""
    outstanding, _created = OutstandingToken.objects.get_or_create(
        jti=token[api_settings.JTI_CLAIM],
        defaults={
            "user": user,
            "token": raw,
            "created_at": datetime_from_epoch(token["iat"]) if "iat" in token else None,
            "expires_at": datetime_from_epoch(token["exp"]),
        },
    )
    _row, created = BlacklistedToken.objects.get_or_create(token=outstanding)
    return created
