"""The worker clusters' admin list: operators see each supervised cluster, whether it runs or
went silent, and why it was last replaced; nobody changes a row."""

from datetime import timedelta

import pytest
from django.urls import reverse

from processes import clock
from processes.models.workers import WorkerCluster, WorkerClusterState

pytestmark = pytest.mark.django_db
LIST = reverse("admin:processes_workercluster_changelist")
WEDGED = "wedged: a task it took waited 31 s while 3 of its workers sat idle"


def test_operators_see_each_cluster_and_why_it_was_replaced(ops_client):
    now = clock.now()
    for name, seen_ago, restarts in (("web-1:100", 2, 1), ("web-2:200", 90, 0)):
        WorkerCluster.objects.create(
            name=name,
            host=name.split(":")[0],
            queue="fulfillment",
            state=WorkerClusterState.RUNNING,
            started_at=now - timedelta(hours=1),
            last_seen_at=now - timedelta(seconds=seen_ago),
            restarts=restarts,
            wedges=restarts,
            last_restart_reason=WEDGED if restarts else "",
        )

    page = ops_client.get(LIST).content.decode()

    assert "web-1:100" in page and "waited 31 s while 3 of its workers sat idle" in page
    assert "silent" in page  # web-2 stopped reporting 90 s ago without saying it stopped
    assert ops_client.get(reverse("admin:processes_workercluster_add")).status_code == 403
