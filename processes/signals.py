"""Django signals the engine sends, for domain apps and alerting to hook into."""

from django.dispatch import Signal

# Sent after commit when a process is flagged needs-attention: sender is the process model,
# with kwargs process_id, state, step and reason.
needs_attention = Signal()

# Sent after commit when a step's circuit opens or closes (never per process): sender is
# processes.models.flow.Circuit, with kwargs process, step, change ("circuit_opened" or
# "circuit_closed") and reason.
circuit_changed = Signal()
