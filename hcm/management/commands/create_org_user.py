import getpass
import os
import sys

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from hcm.models import Role
from hcm.services import org_user_upsert

PASSWORD_ENV = "HCM_USER_PASSWORD"
PROMPT_ATTEMPTS = 3


class Command(BaseCommand):
    help = (
        "Create an organization (if missing) and a user in it; run again to update password and role. "
        f"The password comes from ${PASSWORD_ENV}, else a prompt (typed twice), else --password."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--org", required=True, help="Organization slug (created if missing).")
        parser.add_argument("--org-name", help="Display name for a new organization (default: the slug).")
        parser.add_argument("--username", required=True)
        parser.add_argument(
            "--password",
            help=(
                "For scripts only: a password on the command line is visible to other users of this "
                f"machine (ps, /proc) and kept in shell history. Prefer ${PASSWORD_ENV} or the prompt."
            ),
        )
        parser.add_argument("--email", default="")
        parser.add_argument("--role", choices=Role.values, default=Role.MEMBER)
        parser.add_argument(
            "--no-input",
            "--noinput",
            action="store_false",
            dest="interactive",
            help=f"Never prompt: without --password or ${PASSWORD_ENV}, fail.",
        )

    def handle(self, *args, **opts) -> None:
        password = opts["password"] or os.environ.get(PASSWORD_ENV) or self._prompt(opts["interactive"])
        try:
            user, created = org_user_upsert(
                org_slug=opts["org"],
                org_name=opts["org_name"],
                username=opts["username"],
                password=password,
                email=opts["email"],
                role=opts["role"],
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        verb = "Created" if created else "Updated"
        org = user.organization
        assert org is not None  # org_user_upsert always sets it
        self.stdout.write(self.style.SUCCESS(f"{verb} user {user.username} ({user.role}) in {org.slug} ({org.pk})"))

    def _prompt(self, interactive: bool) -> str:
        """Ask twice on the terminal, as createsuperuser does; a bad entry is asked again."""
        if not (interactive and sys.stdin.isatty()):
            raise CommandError(
                f"No password: set {PASSWORD_ENV}, run in a terminal to be prompted, or pass --password."
            )
        for _attempt in range(PROMPT_ATTEMPTS):
            try:
                password = getpass.getpass("Password: ")
                again = getpass.getpass("Password (again): ")
            except (KeyboardInterrupt, EOFError):
                raise CommandError("Cancelled: no password entered.") from None
            if password != again:
                self.stderr.write("Error: the passwords didn't match.")
            elif not password:
                self.stderr.write("Error: a blank password isn't allowed.")
            else:
                try:
                    validate_password(password)  # again with the user, in org_user_upsert
                except ValidationError as exc:
                    self.stderr.write("Error: " + " ".join(exc.messages))
                else:
                    return password
        raise CommandError(f"No acceptable password after {PROMPT_ATTEMPTS} attempts.")
