from django.db import migrations


def create_row(apps, schema_editor):
    apps.get_model("processes", "SweeperLease").objects.get_or_create(name="sweeper")


class Migration(migrations.Migration):
    """The sweeper loop's lease row exists up front, so taking it never races on an insert."""

    dependencies = [("processes", "0001_initial")]
    operations = [migrations.RunPython(create_row, migrations.RunPython.noop)]
