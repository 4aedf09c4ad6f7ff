from django.core.management.base import BaseCommand, CommandError, CommandParser

from hcm.models import Role
from hcm.services import org_user_upsert


class Command(BaseCommand):
    help = "Create an organization (if missing) and a user in it; run again to update password and role."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--org", required=True, help="Organization slug (created if missing).")
        parser.add_argument("--org-name", help="Display name for a new organization (default: the slug).")
        parser.add_argument("--username", required=True)
        parser.add_argument("--password", required=True)
        parser.add_argument("--email", default="")
        parser.add_argument("--role", choices=Role.values, default=Role.MEMBER)

    def handle(self, *args, **opts) -> None:
        try:
            user, created = org_user_upsert(
                org_slug=opts["org"],
                org_name=opts["org_name"],
                username=opts["username"],
                password=opts["password"],
                email=opts["email"],
                role=opts["role"],
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        verb = "Created" if created else "Updated"
        org = user.organization
        assert org is not None  # org_user_upsert always sets it
        self.stdout.write(self.style.SUCCESS(f"{verb} user {user.username} ({user.role}) in {org.slug} ({org.pk})"))
