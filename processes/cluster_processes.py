"""The processes of one running django-q2 cluster, read from /proc: who is a worker, idle or busy.

django-q2 names its processes with setproctitle: `qcluster <name> idle`, `qcluster <name>
processing <task>`, `qcluster <name> monitor`, `qcluster <name> pusher`; the sweeper process
that `run_workers` starts beside the cluster calls itself `sweeper <state>`. The worker
supervisor reads them to tell a wedged cluster (work waiting, workers idle) from a busy one,
and the proving tools read them to kill an idle worker or a monitor on purpose. Linux only,
like the rest of the deployment.
"""

from dataclasses import dataclass
from pathlib import Path

PROC = Path("/proc")


@dataclass(frozen=True)
class ClusterProcess:
    pid: int
    role: str  # "worker", "monitor", "pusher", "sweeper" or "other" (the cluster's main processes)
    busy: bool  # a worker running a task


def descendants(root: int) -> list[int]:
    """Every live process below `root` (children, grandchildren, ...), parents first."""
    children = _children_by_parent()
    found, frontier = [], [root]
    while frontier:
        below = children.get(frontier.pop(0), [])
        found.extend(below)
        frontier.extend(below)
    return found


def children(root: int) -> list[int]:
    """The processes whose parent is `root`."""
    return _children_by_parent().get(root, [])


def _children_by_parent() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        parent = _parent(entry)
        if parent is not None:
            children.setdefault(parent, []).append(int(entry.name))
    return children


def cluster_processes(root: int) -> list[ClusterProcess]:
    """The processes of the cluster started as `root`, each with its role."""
    processes = []
    for pid in descendants(root):
        title = _title(pid)
        if title is None:
            continue  # gone since the scan
        words = title.split()
        role = words[2] if len(words) > 2 and words[0] == "qcluster" else ""
        if role in ("idle", "processing"):
            processes.append(ClusterProcess(pid, "worker", busy=role == "processing"))
        elif role in ("monitor", "pusher"):
            processes.append(ClusterProcess(pid, role, busy=False))
        elif words[:1] == ["sweeper"] or "run_sweeper" in words:  # named, or still starting
            processes.append(ClusterProcess(pid, "sweeper", busy=False))
        else:
            processes.append(ClusterProcess(pid, "other", busy=False))
    return processes


def _parent(entry: Path) -> int | None:
    try:
        stat = (entry / "stat").read_text()
    except OSError:
        return None
    # "pid (comm) state ppid ...": comm may hold spaces and parentheses, so split after the last ")".
    fields = stat.rpartition(")")[2].split()
    return int(fields[1]) if len(fields) > 1 else None


def _title(pid: int) -> str | None:
    try:
        raw = (PROC / str(pid) / "cmdline").read_bytes()
    except OSError:
        return None
    return raw.replace(b"\0", b" ").decode(errors="replace").strip()
