"""The no-op bench's process keeps no index on its state.

The engine's abstract Process no longer declares one (processes.models.process
`listed_by_state_index`): nothing looks a no-op process up by its state, and the index took an
entry at every step, 0.58 kB of a no-op workflow's 8.5 kB of WAL (docs/performance.md).
"""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("proving", "0003_noop_redo_counts"),
    ]

    operations = [
        migrations.RemoveIndex(model_name="noopprocess", name="proving_noopprocess_state"),
    ]
