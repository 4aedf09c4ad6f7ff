"""GET /health: is this process able to serve (database reachable)?"""

import logging

from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.views.decorators.http import require_GET

from hcm.logging import redact

logger = logging.getLogger(__name__)


@require_GET
def health(request: HttpRequest) -> JsonResponse:
    body: dict = {"status": "ok", "timestamp": timezone.now().isoformat(), "database": "ok"}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # any driver error means "cannot serve"
        logger.warning("health check: database unreachable: %s", exc)
        # The reason helps whoever is paged; redact() keeps any credential in it out.
        body.update(status="unavailable", database=redact(f"error: {type(exc).__name__}: {exc}".strip()))
        return JsonResponse(body, status=503)
    from jobs.selectors import worker_health_summary

    body["workers"] = worker_health_summary()
    return JsonResponse(body)
