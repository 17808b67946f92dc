from django.core.management.base import BaseCommand

from fulfillment.api.idempotency import idempotency_purge


class Command(BaseCommand):
    help = "Delete idempotency keys older than API['IDEMPOTENCY_KEY_TTL'] (24 hours); run it daily."

    def handle(self, *args, **options):
        self.stdout.write(f"Deleted {idempotency_purge()} expired idempotency keys.")
