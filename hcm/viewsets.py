"""What every ViewSet of this API shares."""

from typing import TYPE_CHECKING, Any

from rest_framework.exceptions import NotFound

if TYPE_CHECKING:  # a mixin for GenericAPIView subclasses: typed as one
    from rest_framework.generics import GenericAPIView

    _ViewBase = GenericAPIView
else:
    _ViewBase = object


class ObjectInQuerysetMixin(_ViewBase):
    """get_object() from get_queryset() — the one place a request's data is scoped — with a
    404 that names the id (`not_found`, e.g. "Background job {id} not found.")."""

    not_found = "Not found: {id}."

    def get_object(self) -> Any:
        object_id = self.kwargs[self.lookup_url_kwarg or self.lookup_field]
        obj = self.get_queryset().filter(pk=object_id).first()
        if obj is None:
            raise NotFound(self.not_found.format(id=object_id))
        self.check_object_permissions(self.request, obj)
        return obj
