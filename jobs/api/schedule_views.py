"""/api/system/job-schedules: a thin ViewSet over jobs.schedules.

system_admin only. `get_queryset()` scopes what a caller sees: their organization's
schedules and the service-wide maintenance ones (organization null, `scope: "service"`).
Service-wide schedules belong to platform operators: they create them with
`"scope": "service"` and change or delete them; an organization admin reads them (403 on a
change). Another organization's schedule is a 404.
"""

from typing import Any

from django.db.models import QuerySet
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.viewsets import GenericViewSet

from hcm.permissions import IsSystemAdmin, ServiceScopeOperatorOnly, request_organization
from hcm.viewsets import ObjectInQuerysetMixin
from jobs.api.filters import JobScheduleFilter
from jobs.api.schedule_serializers import JobScheduleInputSerializer, JobScheduleSerializer
from jobs.api.views import requested_job_scope
from jobs.models import JobSchedule
from jobs.registry import SERVICE, get_job_type
from jobs.schedules import job_schedule_create, job_schedule_delete, job_schedule_update, job_schedules_visible

_UPDATE: dict[str, Any] = {"request": JobScheduleInputSerializer, "responses": JobScheduleSerializer}


@extend_schema_view(
    list=extend_schema(summary="Your organization's and the service-wide job schedules"),
    retrieve=extend_schema(summary="A job schedule"),
    create=extend_schema(
        summary="Create a recurring job schedule",
        request=JobScheduleInputSerializer,
        responses={201: JobScheduleSerializer},
    ),
    update=extend_schema(summary="Replace a job schedule", **_UPDATE),
    partial_update=extend_schema(summary="Change some fields of a job schedule", **_UPDATE),
    destroy=extend_schema(summary="Delete a job schedule", responses={204: None}),
)
class JobScheduleViewSet(
    ObjectInQuerysetMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    GenericViewSet,
):
    permission_classes = [IsSystemAdmin & ServiceScopeOperatorOnly]
    queryset = JobSchedule.objects.none()  # the model, for the router and the schema; get_queryset() scopes
    serializer_class = JobScheduleSerializer
    filter_backends = [DjangoFilterBackend]
    filterset_class = JobScheduleFilter
    lookup_url_kwarg = "schedule_id"
    not_found = "Job schedule {id} not found."
    rate_limits = {
        "create": "job_schedule_write",
        "update": "job_schedule_write",
        "partial_update": "job_schedule_write",
        "destroy": "job_schedule_write",
    }

    def get_queryset(self) -> QuerySet[JobSchedule]:
        return job_schedules_visible(organization=request_organization(self.request))

    def requested_scope(self, request: Request) -> tuple[str | None, str]:
        if self.action != "create":
            return None, ""
        return requested_job_scope(request, verb="A schedule of")

    def object_scope(self, schedule: JobSchedule) -> tuple[str, str]:
        return ("organization" if schedule.organization_id else SERVICE), f"Schedule {schedule.name!r}"

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        incoming = JobScheduleInputSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        data = dict(incoming.validated_data)
        spec = get_job_type(data["job_type"])
        # Like a job's: the type's own scope unless asked (service-only types run service-wide).
        scope = data.pop("scope", None) or (spec.default_scope if spec and not spec.internal else None)
        organization = None if scope == SERVICE else request_organization(request)
        schedule = job_schedule_create(organization=organization, created_by=request.user.get_username(), **data)
        return Response(JobScheduleSerializer(schedule).data, status=status.HTTP_201_CREATED)

    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        schedule = self.get_object()
        # PUT replaces: fields left out take their defaults. PATCH changes what it names.
        incoming = JobScheduleInputSerializer(data=request.data, partial=kwargs.get("partial", False))
        incoming.is_valid(raise_exception=True)
        changes = dict(incoming.validated_data)
        changes.pop("scope", None)  # a schedule's scope is fixed at creation
        schedule = job_schedule_update(schedule=schedule, changes=changes, updated_by=request.user.get_username())
        return Response(JobScheduleSerializer(schedule).data)

    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        job_schedule_delete(schedule=self.get_object(), deleted_by=request.user.get_username())
        return Response(status=status.HTTP_204_NO_CONTENT)
