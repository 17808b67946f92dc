"""The noop bench's workflow: five steps that call out and return at once.

Each step is a step with an external call, so the engine runs its whole protocol (claim with a
lease and an attempt row, the call outside any transaction, apply under the row lock with the
journal), while the call does nothing and the record only makes the transition. What a run of
it costs is the engine's own cost, measured by `manage.py bench --workflow noop`.

It is registered only in the processes that run the bench (settings.BENCH_NOOP_WORKFLOW, which
the bench sets for the cluster it starts): a deployment's own sweepers never look at it.
"""

from processes.workflow import Step, Workflow, registry


class NoopCall(Step):
    """A step whose call returns at once and whose record only makes the transition."""

    def __init__(self, name: str, transition: str):
        self.name = name
        self.transition = transition

    def call(self, process, ctx):
        return None

    def record(self, process, result, ctx):
        getattr(process, self.transition)()


NOOP_WORKFLOW = Workflow(
    name="bench_noop",
    model="proving.NoopProcess",
    version=1,
    steps=[
        NoopCall("call_one", "mark_one"),
        NoopCall("call_two", "mark_two"),
        NoopCall("call_three", "mark_three"),
        NoopCall("call_four", "mark_four"),
        NoopCall("call_five", "mark_done"),
    ],
)
STEPS = len(NOOP_WORKFLOW.steps)


def noop_workflow_register() -> None:
    """Make the engine know the noop workflow in this process (idempotent)."""
    registry.register(NOOP_WORKFLOW)
