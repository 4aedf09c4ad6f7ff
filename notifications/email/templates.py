"""Email templates for the email_send job: `notifications/templates/email/<name>.txt` and
optional `.html`.

The text part is rendered without HTML escaping, the HTML part with it.
"""

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from django.template import Context, Engine, TemplateDoesNotExist

TEMPLATE_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,99}$")


@dataclass(frozen=True)
class RenderedEmail:
    text: str
    html: str | None


def email_template_dir() -> Path:
    return Path(__file__).resolve().parent.parent / "templates" / "email"


@cache
def _engine(*, autoescape: bool) -> Engine:
    return Engine(dirs=[str(email_template_dir())], autoescape=autoescape)


def email_template_names() -> list[str]:
    return sorted(p.stem for p in email_template_dir().glob("*.txt") if TEMPLATE_NAME.match(p.stem))


def check_email_template(name: str) -> None:
    """Raise ValueError naming the problem when `name` is not a usable template.

    Loading compiles the templates, so a syntax error is reported here too.
    """
    if not TEMPLATE_NAME.match(name):
        raise ValueError("Use lowercase letters, digits, '-' and '_'.")
    try:
        _engine(autoescape=False).get_template(f"{name}.txt")
        _html_template(name)
    except TemplateDoesNotExist:
        known = ", ".join(email_template_names()) or "none"
        raise ValueError(f"Unknown email template {name!r}. Known: {known}.") from None
    except Exception as exc:  # TemplateSyntaxError and friends
        raise ValueError(f"Email template {name!r} is broken: {exc}") from None


def render_email_template(name: str, data: dict[str, Any]) -> RenderedEmail:
    # Escaping follows the Context (not the Engine) when rendering a Template directly.
    text = _engine(autoescape=False).get_template(f"{name}.txt").render(Context(data, autoescape=False))
    html_template = _html_template(name)
    html = html_template.render(Context(data, autoescape=True)) if html_template is not None else None
    return RenderedEmail(text=text, html=html)


def _html_template(name: str):
    try:
        return _engine(autoescape=True).get_template(f"{name}.html")
    except TemplateDoesNotExist:
        return None
