"""`@openapi_pattern`: a validator declares the regex it applies, for the OpenAPI schema.

Apart from hcm.openapi (which reads the mark) so that models and validators can use it
without importing drf-spectacular and DRF's renderers: the worker never builds a schema.
"""

from typing import Any


def openapi_pattern(regex: Any):  # noqa: ANN201 - a decorator for validator functions
    """Declare the regex a function validator applies, so the schema shows it as `pattern`."""

    def mark(validator: Any) -> Any:
        # JSON Schema patterns are ECMA-262 regexes, which have no \Z: "$" means the same there.
        validator.openapi_pattern = regex.pattern.replace("\\Z", "$")
        return validator

    return mark
