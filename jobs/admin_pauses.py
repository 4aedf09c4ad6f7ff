"""Pause and resume job types from the dashboard (POST /admin/jobs/dashboard/pause/).

Who may: pausing needs the `jobs.add_jobtypepause` permission, resuming
`jobs.delete_jobtypepause`; a service-wide pause, or any pause of a service-only type, is a
platform operator's (hcm.permissions.is_platform_operator). Through jobs.services, recorded
in the audit log.
"""

from dataclasses import dataclass
from typing import cast

from django.contrib import messages
from django.contrib.admin.models import ADDITION, DELETION, LogEntry
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.views.decorators.http import require_POST

from hcm.models import Organization
from hcm.permissions import is_platform_operator
from jobs.models import JobTypePause
from jobs.registry import ORGANIZATION, get_job_type, job_type_names
from jobs.services import job_type_pause, job_type_resume


@dataclass(frozen=True)
class PauseRights:
    pause: bool
    resume: bool
    service_wide: bool  # may pause/resume service-wide, and service-only types

    @classmethod
    def of(cls, user: object) -> "PauseRights":
        return cls(
            pause=user.has_perm("jobs.add_jobtypepause"),  # type: ignore[attr-defined]
            resume=user.has_perm("jobs.delete_jobtypepause"),  # type: ignore[attr-defined]
            service_wide=is_platform_operator(user),
        )


def pausable_types(rights: PauseRights) -> list[str]:
    """Types this user may pause for an organization or service-wide (a service-only type
    has no organization to pause it for: only service-wide, by a platform operator)."""
    names = []
    for name in job_type_names():
        spec = get_job_type(name)
        if spec is not None and (rights.service_wide or spec.internal or ORGANIZATION in spec.scopes):
            names.append(name)
    return names


def _record(request: HttpRequest, pause: JobTypePause | None, *, flag: int, what: str) -> None:
    LogEntry.objects.create(
        user_id=cast(int, request.user.pk),  # a signed-in operator
        content_type_id=ContentType.objects.get_for_model(JobTypePause).pk,
        object_id=str(pause.pk) if pause is not None and flag != DELETION else None,
        object_repr=what[:200],
        action_flag=flag,
        change_message=f"{'Paused' if flag == ADDITION else 'Resumed'} from the dashboard.",
    )


@require_POST
def dashboard_pause_view(request: HttpRequest) -> HttpResponse:
    rights = PauseRights.of(request.user)
    action = request.POST.get("action")
    job_type = request.POST.get("job_type", "")
    org_id = request.POST.get("organization") or None
    back = HttpResponseRedirect(reverse("jobs-dashboard"))
    if action not in ("pause", "resume"):
        messages.error(request, "Choose pause or resume.")
        return back
    spec = get_job_type(job_type)
    if spec is None:
        messages.error(request, f"Unknown job type {job_type!r}.")
        return back
    if not (rights.pause if action == "pause" else rights.resume):
        raise PermissionDenied
    organization = Organization.objects.filter(pk=org_id).first() if org_id else None
    if org_id and organization is None:
        messages.error(request, "No such organization.")
        return back
    service_only = not spec.internal and ORGANIZATION not in spec.scopes
    if (organization is None or service_only) and not rights.service_wide:
        raise PermissionDenied("A service-wide pause, or any pause of a service-scope type, is a platform operator's.")
    if organization is not None and service_only:
        messages.error(request, f"Not paused: {job_type} acts service-wide only; pause it service-wide.")
        return back

    where = f"for {organization.name}" if organization else "service-wide"
    by = request.user.get_username()
    if action == "pause":
        pause = job_type_pause(job_type=job_type, organization=organization, by=by)
        _record(request, pause, flag=ADDITION, what=f"{job_type} paused {where}")
        messages.success(request, f"Paused {job_type} {where}: its queued jobs wait until it is resumed.")
    elif job_type_resume(job_type=job_type, organization=organization, by=by):
        _record(request, None, flag=DELETION, what=f"{job_type} paused {where}")
        messages.success(request, f"Resumed {job_type} {where}.")
    else:
        messages.warning(request, f"Nothing to resume: {job_type} was not paused {where}.")
    return back
