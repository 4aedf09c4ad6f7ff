"""The notification center page (/notifications/) and the unsubscribe page: server-rendered,
working without JavaScript (every button is a form); notifications/static/notifications/
center.js makes it live (the stream) and keeps actions on the page.

Each action answers a redirect back to the page, or JSON (`{"unread": n}`) when the
script asks with `X-Requested-With: fetch`.
"""

from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Max, QuerySet
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from hcm.models import User
from hcm.permissions import request_organization, request_user
from notifications import selectors
from notifications.api.serializers import NotificationSerializer
from notifications.events import InvalidNotification, event_names, get_event
from notifications.models import Notification
from notifications.preferences import PERSONAL_CHANNELS
from notifications.services.notification_center import (
    notification_delete,
    notification_mark_read,
    notifications_mark_all_read,
)
from notifications.services.preferences import PreferenceChange, preference_set, preferences_update
from notifications.unsubscribe import InvalidUnsubscribeLink, unsubscribe_token_read
from notifications.validators import HH_MM

PAGE_SIZE = 50
CHANNEL_LABELS = {"in_app": "In the app", "email": "Email", "sms": "SMS"}


def _member(request: HttpRequest) -> User:
    """The signed-in person, who must belong to an organization (403 otherwise)."""
    request_organization(request)
    return request_user(request)


def _mine(user: User) -> QuerySet[Notification]:
    """The one place this page scopes notifications: the signed-in person's own."""
    return Notification.objects.filter(user_id=user.pk)


def _back(request: HttpRequest) -> HttpResponse:
    """Back to the page the form was on (its filters kept)."""
    target = request.POST.get("next") or ""
    if not target.startswith("/notifications/") or not url_has_allowed_host_and_scheme(target, None):
        target = "/notifications/"
    return redirect(target)


def _wants_json(request: HttpRequest) -> bool:
    return request.headers.get("X-Requested-With") == "fetch"


@login_required
def notification_center(request: HttpRequest) -> HttpResponse:
    from notifications.api.preferences import preferences_data

    user = _member(request)
    unread_only = request.GET.get("unread") == "1"
    type_filter = request.GET.get("type") or ""
    try:
        skip = max(0, int(request.GET.get("skip", "0")))
    except ValueError:
        skip = 0
    notifications = _mine(user).order_by("-created_at", "-id")  # id breaks ties: pages never overlap
    if unread_only:
        notifications = notifications.filter(read_at__isnull=True)
    if type_filter:
        notifications = notifications.filter(type=type_filter)
    total = notifications.count()
    page = list(notifications[skip : skip + PAGE_SIZE])
    types = sorted(
        set(event_names()) | set(Notification.objects.filter(user=user).values_list("type", flat=True).distinct())
    )
    prefs = preferences_data(user)
    rows: dict[str, dict[str, Any]] = {}
    for cell in prefs["items"]:
        event = get_event(cell["event"])
        row = rows.setdefault(
            cell["event"],
            {
                "event": cell["event"],
                "label": cell["event"].replace("_", " ").capitalize(),
                "description": event.description if event else "",
                "cells": [],
            },
        )
        row["cells"].append({**cell, "label": CHANNEL_LABELS.get(cell["channel"], cell["channel"])})
    query = {k: v for k, v in (("unread", "1" if unread_only else ""), ("type", type_filter)) if v}
    here = "/notifications/" + (f"?{urlencode(query)}" if query else "")
    head = Notification.objects.filter(user=user).aggregate(head=Max("seq"))["head"] or 0
    context = {
        "notifications": [
            NotificationSerializer(n).data
            | {"is_read": n.read_at is not None, "when": n.created_at.strftime("%Y-%m-%d %H:%M UTC")}
            for n in page
        ],
        "total": total,
        "skip": skip,
        "next_skip": skip + PAGE_SIZE if skip + PAGE_SIZE < total else None,
        "prev_skip": max(0, skip - PAGE_SIZE) if skip else None,
        "unread_count": selectors.notification_unread_count(notifications=_mine(user)),
        "unread_only": unread_only,
        "type_filter": type_filter,
        "types": types,
        "here": here,
        "query": urlencode(query),
        "stream_cursor": head,
        "channels": [CHANNEL_LABELS.get(c, c) for c in PERSONAL_CHANNELS],
        "preference_rows": list(rows.values()),
        "quiet_hours": prefs["quiet_hours"],
        "organization_timezone": request_organization(request).timezone,
    }
    return render(request, "notification_center/center.html", context)


def _answer(request: HttpRequest, **extra: Any) -> HttpResponse:
    if _wants_json(request):
        unread = selectors.notification_unread_count(notifications=_mine(request_user(request)))
        return JsonResponse({"unread": unread, **extra})
    return _back(request)


@login_required
@require_POST
def notification_read(request: HttpRequest, id: str) -> HttpResponse:
    user = _member(request)
    notification = _mine(user).filter(pk=id).first()
    if notification is None:  # missing, or someone else's: the same answer
        return JsonResponse({"detail": "Not found."}, status=404)
    notification_mark_read(notification=notification)
    return _answer(request, id=id)


@login_required
@require_POST
def notification_read_all(request: HttpRequest) -> HttpResponse:
    user = _member(request)
    updated = notifications_mark_all_read(notifications=_mine(user))
    if not _wants_json(request):
        messages.success(request, f"Marked {updated} notification{'s' if updated != 1 else ''} as read.")
    return _answer(request, updated=updated)


@login_required
@require_POST
def notification_remove(request: HttpRequest, id: str) -> HttpResponse:
    user = _member(request)
    notification = _mine(user).filter(pk=id).first()
    if notification is None:
        return JsonResponse({"detail": "Not found."}, status=404)
    notification_delete(notification=notification)
    return _answer(request, id=id)


@login_required
@require_POST
def preferences_save(request: HttpRequest) -> HttpResponse:
    """The matrix form: a checkbox per changeable cell (`pref:<event>:<channel>`)."""
    from notifications.api.preferences import preferences_data

    user = _member(request)
    changes = [
        PreferenceChange(
            event=c["event"], channel=c["channel"], enabled=f"pref:{c['event']}:{c['channel']}" in request.POST
        )
        for c in preferences_data(user)["items"]
        if c["allowed"] and not c["locked"]
    ]
    start = request.POST.get("quiet_start", "").strip() or None
    end = request.POST.get("quiet_end", "").strip() or None
    zone = request.POST.get("timezone", "").strip() or None
    problems = []
    if (start is None) != (end is None):
        problems.append("Quiet hours need both a start and an end (or neither).")
    for value in (start, end):
        if value is not None and not HH_MM.match(value):
            problems.append(f"{value!r} is not a time as HH:MM.")
    if zone is not None:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError):
            problems.append(f"Unknown time zone {zone!r}; use a name such as Europe/Berlin.")
    if not problems:
        try:
            preferences_update(user=user, changes=changes, quiet_hours={"start": start, "end": end, "timezone": zone})
        except InvalidNotification as exc:
            problems.extend(str(m) for msgs in exc.errors.values() for m in msgs)
    if problems:
        for problem in problems:
            messages.error(request, problem)
    else:
        messages.success(request, "Your notification preferences were saved.")
    return redirect("/notifications/#preferences")


@csrf_exempt  # mail clients POST without a CSRF token (RFC 8058); the signed token is the proof
@require_http_methods(["GET", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    """GET: a confirmation page (mail scanners follow links). POST: unsubscribe."""
    try:
        user_id, event = unsubscribe_token_read(token)
    except InvalidUnsubscribeLink as exc:
        return render(request, "notification_center/unsubscribe.html", {"error": str(exc)}, status=400)
    user = User.objects.filter(pk=user_id, is_active=True).first()
    if user is None or get_event(event) is None:
        return render(
            request,
            "notification_center/unsubscribe.html",
            {"error": "This unsubscribe link no longer applies to anyone."},
            status=404,
        )
    label = event.replace("_", " ")
    if request.method == "GET":
        return render(request, "notification_center/unsubscribe.html", {"event": label, "confirm": True})
    changed = preference_set(user=user, event=event, channel="email", enabled=False)
    return render(request, "notification_center/unsubscribe.html", {"event": label, "done": True, "changed": changed})
