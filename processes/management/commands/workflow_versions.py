"""List, per workflow and version, the processes in flight in each state."""

from django.core.management.base import BaseCommand

from processes.versions import in_flight, rollout_percent
from processes.workflow import registry


class Command(BaseCommand):
    help = (
        "Show each workflow's registered versions, the rollout share and the in-flight processes per state."
    )

    def handle(self, *args, **options):
        rows = in_flight()
        labels = sorted({*registry.labels(), *(row.label for row in rows)})
        for label in labels:
            versions = registry.versions(label)
            share = rollout_percent(label) if len(versions) > 1 else 100
            listed = ", ".join(f"v{v}" for v in versions) or "none"
            self.stdout.write(f"{label}: registered {listed}; newest gets {share} % of new processes")
            mine = [row for row in rows if row.label == label]
            for version in sorted({*versions, *(row.version for row in mine)}):
                states = [row for row in mine if row.version == version]
                total = sum(row.count for row in states)
                gone = "" if version in versions else "  ** NOT REGISTERED: its code is gone **"
                self.stdout.write(f"  v{version}: {total} in flight{gone}")
                for row in states:
                    self.stdout.write(f"    {row.state:<20} {row.count}")
