from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from fulfillment.api.clients import NotAnApiClient, api_client_create


class Command(BaseCommand):
    help = "Create an API client (or find it) and print its token, alone on stdout."

    def add_arguments(self, parser):
        parser.add_argument("name", help="The client's name, e.g. the shop's: letters, digits and @.+-_")
        parser.add_argument(
            "--rotate", action="store_true", help="Replace the token; the old one stops working."
        )

    def handle(self, *args, name, rotate, **options):
        try:
            token, created = api_client_create(name=name, rotate=rotate)
        except (ValidationError, NotAnApiClient) as exc:
            raise CommandError(" ".join(getattr(exc, "messages", [str(exc)]))) from None
        what = "Created API client" if created else "API client"
        self.stderr.write(f"{what} {name!r}; send its token as 'Authorization: Token <token>':")
        self.stdout.write(token)
