"""Send the simulators' ledgers through the `simulators` connection.

It points at the same database as `default` but is a separate connection, so a simulated
charge commits on its own, exactly like a remote gateway's would, even when our transaction
rolls back or our process dies right after the call.
"""

SIMULATOR_APP = "simulators"


class SimulatorRouter:
    def db_for_read(self, model, **hints):
        return "simulators" if model._meta.app_label == SIMULATOR_APP else None

    def db_for_write(self, model, **hints):
        return "simulators" if model._meta.app_label == SIMULATOR_APP else None

    def allow_relation(self, obj1, obj2, **hints):
        return None

    def allow_migrate(self, db, app_label, **hints):
        # One physical database: tables are created once, through `default`.
        return db == "default"
