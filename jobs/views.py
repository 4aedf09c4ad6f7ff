"""/api/system/background-jobs: thin views over jobs.services (writes) and jobs.selectors (reads).

Every view is system_admin only; jobs are scoped to the caller's organization (another
organization's job is a 404). Pause/resume and the worker list are service-wide.
"""

from rest_framework import status
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from hcm.pagination import paginate
from hcm.permissions import IsSystemAdmin
from hcm.ratelimit import enforce_rate_limit
from jobs.models import BackgroundJob, JobPriority, JobTrigger
from jobs.selectors import job_get, job_list, job_stats
from jobs.serializers import (
    BackgroundJobCreateSerializer,
    BackgroundJobDetailSerializer,
    BackgroundJobListQuery,
    BackgroundJobSerializer,
    JobStatsSerializer,
    JobTypeActionSerializer,
    PausedStateSerializer,
)
from jobs.services import JobStateError, job_cancel, job_enqueue, job_retry, job_type_pause, job_type_resume


def _job_or_404(request: Request, job_id: str) -> BackgroundJob:
    job = job_get(organization=request.user.organization, job_id=job_id)
    if job is None:
        raise NotFound(f"Background job {job_id} not found.")
    return job


def _state_error(exc: JobStateError) -> ValidationError:
    return ValidationError({"status": [str(exc)]})


class BackgroundJobListView(APIView):
    permission_classes = [IsSystemAdmin]

    def get(self, request: Request) -> Response:
        query = BackgroundJobListQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        filters = query.validated_data
        jobs = job_list(
            organization=request.user.organization,
            status=filters.get("status"),
            job_type=filters.get("job_type"),
            priority=JobPriority.from_name(filters["priority"]) if "priority" in filters else None,
        )
        return Response(paginate(jobs, request.query_params, BackgroundJobSerializer))

    def post(self, request: Request) -> Response:
        enforce_rate_limit(request, "background_job_create")
        incoming = BackgroundJobCreateSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        data = incoming.validated_data
        job, created = job_enqueue(
            organization=request.user.organization,
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


class BackgroundJobDetailView(APIView):
    permission_classes = [IsSystemAdmin]

    def get(self, request: Request, job_id: str) -> Response:
        job = _job_or_404(request, job_id)
        return Response(BackgroundJobDetailSerializer(job).data)


class BackgroundJobCancelView(APIView):
    permission_classes = [IsSystemAdmin]

    def post(self, request: Request, job_id: str) -> Response:
        enforce_rate_limit(request, "background_job_cancel")
        job = _job_or_404(request, job_id)
        try:
            job = job_cancel(job=job, by=request.user.get_username())
        except JobStateError as exc:
            raise _state_error(exc)
        return Response(BackgroundJobSerializer(job).data)


class BackgroundJobRetryView(APIView):
    permission_classes = [IsSystemAdmin]

    def post(self, request: Request, job_id: str) -> Response:
        # A retry queues work again, like a create: it spends the same allowance.
        enforce_rate_limit(request, "background_job_create")
        job = _job_or_404(request, job_id)
        try:
            job = job_retry(job=job, by=request.user.get_username())
        except JobStateError as exc:
            raise _state_error(exc)
        return Response(BackgroundJobSerializer(job).data)


class BackgroundJobStatsView(APIView):
    permission_classes = [IsSystemAdmin]

    def get(self, request: Request) -> Response:
        return Response(JobStatsSerializer(job_stats(organization=request.user.organization)).data)


class JobTypePauseView(APIView):
    """POST {"job_type": ...}: its queued jobs stay queued until resumed (service-wide)."""

    permission_classes = [IsSystemAdmin]

    def post(self, request: Request) -> Response:
        incoming = JobTypeActionSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        paused = job_type_pause(job_type=incoming.validated_data["job_type"], by=request.user.get_username())
        state = {
            "job_type": paused.job_type,
            "paused": True,
            "paused_at": paused.paused_at,
            "paused_by": paused.paused_by,
        }
        return Response(PausedStateSerializer(state).data)


class JobTypeResumeView(APIView):
    permission_classes = [IsSystemAdmin]

    def post(self, request: Request) -> Response:
        incoming = JobTypeActionSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        job_type = incoming.validated_data["job_type"]
        job_type_resume(job_type=job_type, by=request.user.get_username())
        state = {"job_type": job_type, "paused": False, "paused_at": None, "paused_by": None}
        return Response(PausedStateSerializer(state).data)
