"""/api/system/background-jobs: a thin ViewSet over jobs.services (writes) and
jobs.selectors (reads).

system_admin only. `get_queryset()` is the one place a request's jobs are scoped: the
caller's organization's, plus the service-wide ones (no organization) for a platform
operator. Another organization's job is a 404. Service-scope job types and service-wide
pauses need a platform operator (hcm.permissions.ServiceScopeOperatorOnly).
"""

from typing import Any

from django.db.models import Q, QuerySet
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.viewsets import GenericViewSet

from hcm.permissions import (
    IsSystemAdmin,
    ServiceScopeOperatorOnly,
    is_platform_operator,
    request_organization,
    request_user,
)
from hcm.viewsets import ObjectInQuerysetMixin
from jobs.api.filters import BackgroundJobFilter
from jobs.api.serializers import (
    BackgroundJobCreateSerializer,
    BackgroundJobDetailSerializer,
    BackgroundJobSerializer,
    JobStatsSerializer,
    JobTypeActionSerializer,
    PausedStateSerializer,
)
from jobs.models import BackgroundJob, JobTrigger
from jobs.registry import SERVICE, get_job_type
from jobs.selectors import job_list_ranges, job_stats
from jobs.services import job_cancel, job_enqueue, job_retry, job_type_pause, job_type_resume


def requested_job_scope(request: Request, *, verb: str) -> tuple[str | None, str]:
    """The scope a body's `job_type` (and `scope`) asks for; None when the input is too
    broken to tell (validation answers 400 then)."""
    data = request.data
    if not isinstance(data, dict) or not isinstance(data.get("job_type"), str):
        return None, ""
    spec = get_job_type(data["job_type"])
    if spec is None or spec.internal:
        return None, ""
    scope = data.get("scope") or spec.default_scope
    return (scope if scope in spec.scopes else None), f"{verb} {spec.name!r}"


@extend_schema_view(
    list=extend_schema(summary="Your organization's background jobs, newest first"),
    retrieve=extend_schema(summary="A background job and its attempts"),
    create=extend_schema(
        summary="Queue a background job",
        request=BackgroundJobCreateSerializer,
        responses={
            201: BackgroundJobSerializer,
            200: OpenApiResponse(BackgroundJobSerializer, description="The job this idempotency key created."),
        },
    ),
)
class BackgroundJobViewSet(
    ObjectInQuerysetMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, GenericViewSet
):
    permission_classes = [IsSystemAdmin & ServiceScopeOperatorOnly]
    queryset = BackgroundJob.objects.none()  # the model, for the router and the schema; get_queryset() scopes
    serializer_class = BackgroundJobSerializer
    filter_backends = [DjangoFilterBackend]
    filterset_class = BackgroundJobFilter
    lookup_url_kwarg = "job_id"
    not_found = "Background job {id} not found."
    # A retry queues work again, like a create: it spends the same allowance.
    rate_limits = {
        "create": "background_job_create",
        "retry": "background_job_create",
        "cancel": "background_job_cancel",
        "pause": "job_type_pause",
        "resume": "job_type_pause",
    }

    def get_queryset(self) -> QuerySet[BackgroundJob]:
        user = request_user(self.request)
        visible = Q(organization_id=user.organization_id)
        if is_platform_operator(user):
            visible |= Q(organization__isnull=True)
        # id breaks created_at ties so skip/limit pages never repeat or drop a job.
        return BackgroundJob.objects.filter(visible).order_by("-created_at", "-id")

    def _filtered(self) -> set[str]:
        # Bad values were a 400 already (the filter backend); an empty one filters nothing.
        return {name for name in self.filterset_class.base_filters if self.request.query_params.get(name)}

    def page_ranges(self, queryset: QuerySet[BackgroundJob]) -> list[QuerySet[BackgroundJob]]:
        """The list as disjoint index ranges (hcm.pagination merges a page from them): per
        scope it shows, then per value of what the filters leave open."""
        user = request_user(self.request)
        scopes = [queryset.filter(organization_id=user.organization_id)]
        if is_platform_operator(user):
            scopes.append(queryset.filter(organization__isnull=True))
        return [part for scope in scopes for part in job_list_ranges(scope, filtered=self._filtered())]

    def get_serializer_class(self) -> type:
        return {"retrieve": BackgroundJobDetailSerializer}.get(self.action, BackgroundJobSerializer)

    def requested_scope(self, request: Request) -> tuple[str | None, str]:
        if self.action == "create":
            return requested_job_scope(request, verb="Job type")
        if self.action in ("pause", "resume"):
            return requested_job_scope(request, verb=f"{self.action.capitalize()} of")
        return None, ""

    def object_scope(self, job: BackgroundJob) -> tuple[str, str]:
        return ("organization" if job.organization_id else SERVICE), f"Job {job.pk}"

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        incoming = BackgroundJobCreateSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        data = incoming.validated_data
        job, created = job_enqueue(
            organization=None if data["scope"] == SERVICE else request_organization(request),
            job_type=data["job_type"],
            payload=data["payload"],
            priority=data.get("priority"),
            max_retries=data["max_retries"],
            run_at=data.get("run_at"),
            idempotency_key=data.get("idempotency_key") or None,
            created_by=request.user.get_username(),
            trigger=JobTrigger.USER,
            trigger_id=request.user.get_username(),
        )
        # The same idempotency key again: the job it created, 200 instead of 201.
        return Response(
            BackgroundJobSerializer(job).data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK
        )

    @extend_schema(summary="Cancel a queued or processing job", request=None, responses=BackgroundJobSerializer)
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, job_id: str) -> Response:
        job = job_cancel(job=self.get_object(), by=request.user.get_username())
        return Response(BackgroundJobSerializer(job).data)

    @extend_schema(summary="Queue a failed or cancelled job again", request=None, responses=BackgroundJobSerializer)
    @action(detail=True, methods=["post"])
    def retry(self, request: Request, job_id: str) -> Response:
        job = job_retry(job=self.get_object(), by=request.user.get_username())
        return Response(BackgroundJobSerializer(job).data)

    @extend_schema(summary="Queue, status and run statistics", responses=JobStatsSerializer)
    @action(detail=False, methods=["get"], filter_backends=[], pagination_class=None)
    def stats(self, request: Request) -> Response:
        return Response(JobStatsSerializer(job_stats(organization=request_organization(request))).data)

    @extend_schema(
        summary="Pause a job type (your organization's jobs; service-wide for platform operators)",
        request=JobTypeActionSerializer,
        responses=PausedStateSerializer,
    )
    @action(detail=False, methods=["post"], filter_backends=[], pagination_class=None)
    def pause(self, request: Request) -> Response:
        job_type, organization = self._pause_target(request)
        paused = job_type_pause(job_type=job_type, organization=organization, by=request.user.get_username())
        state = {
            "job_type": paused.job_type,
            "scope": paused.scope,
            "paused": True,
            "paused_at": paused.paused_at,
            "paused_by": paused.paused_by,
        }
        return Response(PausedStateSerializer(state).data)

    @extend_schema(
        summary="Resume a paused job type (your organization's pause; the service-wide one for operators)",
        request=JobTypeActionSerializer,
        responses=PausedStateSerializer,
    )
    @action(detail=False, methods=["post"], filter_backends=[], pagination_class=None)
    def resume(self, request: Request) -> Response:
        job_type, organization = self._pause_target(request)
        job_type_resume(job_type=job_type, organization=organization, by=request.user.get_username())
        scope = "organization" if organization else SERVICE
        state = {"job_type": job_type, "scope": scope, "paused": False, "paused_at": None, "paused_by": None}
        return Response(PausedStateSerializer(state).data)

    def _pause_target(self, request: Request) -> tuple[str, Any]:
        incoming = JobTypeActionSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        data = incoming.validated_data
        return data["job_type"], (None if data["scope"] == SERVICE else request_organization(request))
