from django.core.management.base import BaseCommand

from fulfillment.proving.demo import OPERATORS, SUPPORT, WORKERS, demo_data_load, demo_user_reset


class Command(BaseCommand):
    help = "Load the demo catalogue and stock, and (re)set the demo logins with new passwords."

    def handle(self, *args, **options):
        counts = demo_data_load()
        self.stdout.write(
            f"Catalogue: {counts['products']} products stocked in warehouse {counts['warehouse']}."
        )
        operator = demo_user_reset(username="operator", group_name=OPERATORS, staff=True)
        support = demo_user_reset(username="support", group_name=SUPPORT, staff=True)
        worker = demo_user_reset(username="worker", group_name=WORKERS, staff=False)
        self.stdout.write(self.style.SUCCESS("Demo logins (passwords are new on every run):"))
        self.stdout.write(f"  operator / {operator}   http://127.0.0.1:8000/admin/")
        self.stdout.write(f"  support  / {support}   (read-only) http://127.0.0.1:8000/admin/")
        self.stdout.write(f"  worker   / {worker}")
