"""DRF routers for this API's paths: written without a trailing slash, answering the slash
form too (no redirect), and ids matched as one whole path segment."""

from rest_framework.routers import DynamicRoute, Route, SimpleRouter


class ApiRouter(SimpleRouter):
    """`router.register("api/system/background-jobs", …)` → `…/background-jobs` and
    `…/background-jobs/` both answer; so do `{id}` and every `@action` path."""

    def __init__(self) -> None:
        super().__init__(trailing_slash=False)
        self.trailing_slash = "/?"

    def get_lookup_regex(self, viewset, lookup_prefix: str = "") -> str:
        # Any one segment (ids are opaque; a bad one is a plain 404 from get_object).
        lookup_field = getattr(viewset, "lookup_field", "pk")
        lookup_url_kwarg = getattr(viewset, "lookup_url_kwarg", None) or lookup_field
        return f"(?P<{lookup_prefix}{lookup_url_kwarg}>[^/]+)"


class SingletonRouter(ApiRouter):
    """A resource with exactly one object per caller (an organization's settings, a user's
    contact): GET / PUT / PATCH on the collection path, actions below it."""

    routes = [
        Route(
            url=r"^{prefix}{trailing_slash}$",
            mapping={"get": "retrieve", "put": "update", "patch": "partial_update"},
            name="{basename}",
            detail=False,
            initkwargs={"suffix": "Instance"},
        ),
        DynamicRoute(
            url=r"^{prefix}/{url_path}{trailing_slash}$", name="{basename}-{url_name}", detail=False, initkwargs={}
        ),
    ]
