"""Django signals the engine sends, for domain apps and alerting to hook into."""

from django.dispatch import Signal

# Sent after commit when a process is flagged needs-attention: sender is the process model,
# with kwargs process_id, state, step and reason.
needs_attention = Signal()
