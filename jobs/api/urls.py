"""The jobs app's API: its ViewSets on one router (paths answer with and without '/')."""

from hcm.routers import ApiRouter
from jobs.api.schedule_views import JobScheduleViewSet
from jobs.api.views import BackgroundJobViewSet

router = ApiRouter()
router.register("api/system/background-jobs", BackgroundJobViewSet, basename="background-job")
router.register("api/system/job-schedules", JobScheduleViewSet, basename="job-schedule")

urlpatterns = router.urls
