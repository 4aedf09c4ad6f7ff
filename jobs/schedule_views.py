"""/api/system/job-schedules: thin views over jobs.schedules.

system_admin only. An admin sees its organization's schedules and the service-wide
maintenance ones (organization null, `scope: "service"`); it may change only its own: the
service-wide ones are read-only here (403) and are managed in the admin. Another
organization's schedule is a 404.
"""

from rest_framework import status
from rest_framework.exceptions import NotFound, PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from hcm.pagination import paginate
from hcm.permissions import IsSystemAdmin
from jobs.models import JobSchedule
from jobs.schedule_serializers import JobScheduleInputSerializer, JobScheduleListQuery, JobScheduleSerializer
from jobs.schedules import (
    job_schedule_create,
    job_schedule_delete,
    job_schedule_get,
    job_schedule_list,
    job_schedule_update,
)


def _schedule_or_404(request: Request, schedule_id: str) -> JobSchedule:
    schedule = None
    # An id no schedule can have (PostgreSQL refuses NUL in a parameter) is simply not found.
    if len(schedule_id) <= 40 and "\x00" not in schedule_id:
        schedule = job_schedule_get(organization=request.user.organization, schedule_id=schedule_id)
    if schedule is None:
        raise NotFound(f"Job schedule {schedule_id} not found.")
    return schedule


def _editable_or_403(request: Request, schedule_id: str) -> JobSchedule:
    schedule = _schedule_or_404(request, schedule_id)
    if schedule.organization_id is None:
        raise PermissionDenied("Service-wide schedules are read-only here; operators change them in the admin.")
    return schedule


class JobScheduleListView(APIView):
    permission_classes = [IsSystemAdmin]

    def get(self, request: Request) -> Response:
        # A plain dict: from a QueryDict, DRF reads a missing boolean as false.
        query = JobScheduleListQuery(data=request.query_params.dict())
        query.is_valid(raise_exception=True)
        schedules = job_schedule_list(organization=request.user.organization, **query.validated_data)
        return Response(paginate(schedules, request.query_params, JobScheduleSerializer))

    def post(self, request: Request) -> Response:
        incoming = JobScheduleInputSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        schedule = job_schedule_create(
            organization=request.user.organization, created_by=request.user.get_username(), **incoming.validated_data
        )
        return Response(JobScheduleSerializer(schedule).data, status=status.HTTP_201_CREATED)


class JobScheduleDetailView(APIView):
    permission_classes = [IsSystemAdmin]

    def get(self, request: Request, schedule_id: str) -> Response:
        return Response(JobScheduleSerializer(_schedule_or_404(request, schedule_id)).data)

    def put(self, request: Request, schedule_id: str) -> Response:
        return self._update(request, schedule_id, partial=False)

    def patch(self, request: Request, schedule_id: str) -> Response:
        return self._update(request, schedule_id, partial=True)

    def delete(self, request: Request, schedule_id: str) -> Response:
        schedule = _editable_or_403(request, schedule_id)
        job_schedule_delete(schedule=schedule, deleted_by=request.user.get_username())
        return Response(status=status.HTTP_204_NO_CONTENT)

    def _update(self, request: Request, schedule_id: str, *, partial: bool) -> Response:
        schedule = _editable_or_403(request, schedule_id)
        # PUT replaces: fields left out take their defaults. PATCH changes what it names.
        incoming = JobScheduleInputSerializer(data=request.data, partial=partial)
        incoming.is_valid(raise_exception=True)
        schedule = job_schedule_update(
            schedule=schedule, changes=incoming.validated_data, updated_by=request.user.get_username()
        )
        return Response(JobScheduleSerializer(schedule).data)
