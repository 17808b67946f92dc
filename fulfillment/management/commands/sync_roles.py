"""manage.py sync_roles: create or update the console's two groups, Operators and Support, with
exactly the permissions fulfillment.roles gives them. The release step runs it on every deploy, so
a page or action added since (a new list's view permission, say) reaches the existing groups;
people are put in a group in the admin's Users page, which this leaves alone."""

from django.core.management.base import BaseCommand

from fulfillment.roles import roles_sync


class Command(BaseCommand):
    help = "Create or update the Operators and Support groups with their permissions (safe to run again)."

    def handle(self, *args, **options):
        for name, group in roles_sync().items():
            self.stdout.write(
                f"{name}: {group.permissions.count()} permissions, {group.user_set.count()} users"
            )
