"""The token endpoints: obtain (login-limited), refresh (rotating) and logout, each with its
own OpenAPI description."""

from django.contrib.auth import get_user_model
from drf_spectacular.utils import extend_schema, extend_schema_serializer
from rest_framework import serializers, status
from rest_framework.exceptions import PermissionDenied, Throttled, ValidationError
from rest_framework.generics import GenericAPIView
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.serializers import TokenObtainPairSerializer
from rest_framework_simplejwt.views import TokenObtainPairView, TokenRefreshView

from hcm.login_limits import login_attempt_check
from hcm.openapi import error_response
from hcm.permissions import request_user
from hcm.tokens import RefreshTokenOfAnotherUser, refresh_token_revoke, refresh_token_rotate


@extend_schema_serializer(component_name="TokenRefresh")
class RotatingTokenRefreshSerializer(serializers.Serializer):
    refresh = serializers.CharField(
        help_text="In the request, a refresh token (usable once); in the response, its replacement."
    )
    access = serializers.CharField(read_only=True)

    def validate(self, attrs: dict) -> dict[str, str]:
        return refresh_token_rotate(raw=attrs["refresh"])  # TokenError → 401 (TokenViewBase.post)


class LogoutSerializer(serializers.Serializer):
    refresh = serializers.CharField(help_text="Your refresh token, to revoke.")


class TokenObtainView(TokenObtainPairView):
    """Log in with username and password. Attempts are limited per client address and per
    username (RATE_LIMIT_LOGIN_IP, RATE_LIMIT_LOGIN_USERNAME), successful or not."""

    serializer_class = TokenObtainPairSerializer

    @extend_schema(
        summary="Get an access and a refresh token",
        responses={
            200: TokenObtainPairSerializer,
            401: error_response(401, "Wrong username or password, or inactive."),
            429: error_response(429, "Too many login attempts from this address or for this username."),
        },
    )
    def post(self, request: Request, *args, **kwargs) -> Response:
        data = request.data
        username = data.get(get_user_model().USERNAME_FIELD) if isinstance(data, dict) else None
        # What the serializer's CharField would accept as a username (it takes numbers too).
        if isinstance(username, bool) or not isinstance(username, str | int | float):
            username = None
        refused = login_attempt_check(request, username=None if username is None else str(username))
        if refused:
            raise Throttled(wait=refused.retry_after, detail=refused.message)
        return super().post(request, *args, **kwargs)


class TokenRotateView(TokenRefreshView):
    """Trade a refresh token for a new access token and a new refresh token. The one sent
    is blacklisted: sending it again is a 401."""

    serializer_class = RotatingTokenRefreshSerializer

    @extend_schema(
        summary="Get a new access and refresh token",
        responses={
            200: RotatingTokenRefreshSerializer,
            401: error_response(
                401,
                "Invalid, expired, already used or revoked refresh token; or the user is gone, "
                "deactivated, or changed password since.",
            ),
        },
    )
    def post(self, request: Request, *args, **kwargs) -> Response:
        return super().post(request, *args, **kwargs)


class LogoutView(GenericAPIView):
    """Revoke your refresh token (it can no longer be refreshed). The access token you hold
    stays valid until it expires (JWT_ACCESS_MINUTES); drop it."""

    permission_classes = [IsAuthenticated]
    serializer_class = LogoutSerializer

    @extend_schema(
        summary="Log out: revoke a refresh token",
        responses={
            204: None,
            400: error_response(400, "`refresh` is missing, not a refresh token, or expired."),
            403: error_response(403, "The refresh token belongs to another user."),
        },
    )
    def post(self, request: Request) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            refresh_token_revoke(raw=serializer.validated_data["refresh"], user=request_user(request))
        except RefreshTokenOfAnotherUser as exc:
            raise PermissionDenied(str(exc)) from exc
        except TokenError as exc:
            raise ValidationError({"refresh": [str(exc)]}) from exc
        return Response(status=status.HTTP_204_NO_CONTENT)
