"""Fixtures shared by the whole suite: a quiet simulator, a stocked catalogue, order drivers."""

import random

import pytest
from django.test.utils import override_settings

from processes import clock
from processes.flow import health, pacing
from tests.factories import make_catalogue

# Engine tests need real commits: the runner refuses to call a service inside a transaction,
# and the simulators write through their own connection.
ENGINE_DB = pytest.mark.django_db(transaction=True, databases=["default", "simulators"])


@pytest.fixture(autouse=True, scope="session")
def fast_password_hashing():
    """Django's default hasher spends about half a second per password on purpose; the suite
    makes hundreds of users and logs them in. Only the test run uses this one."""
    with override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"]):
        yield


@pytest.fixture(autouse=True, scope="session")
def tables_emptied_by_delete():
    """After each transactional test pytest-django empties every table with Django's flush: on
    PostgreSQL one TRUNCATE of all of them (about 60 tables and 220 indexes), for which the
    server makes new files for each and drops the old. That took about a second per test, half
    of the suite's time. A DELETE of each table does the same to tables holding a test's few
    rows in about a tenth of that: the foreign keys Django makes are DEFERRABLE INITIALLY
    DEFERRED, so they are checked when the flush's transaction commits, with every table empty
    (the flush runs in one). Sequences are not reset either way (pytest-django's default);
    a flush that resets them or cascades beyond the tables it names still truncates.

    The content types and permissions are kept: after each flush Django's post_migrate writes
    them again, the same rows every time (no test makes its own), which was most of what was
    left of the time. Only the tests' emptying changes: nothing in the product flushes."""
    from django.db.backends.postgresql.operations import DatabaseOperations

    truncate = DatabaseOperations.sql_flush
    kept = {"django_content_type", "auth_permission"}

    def delete(self, style, tables, *, reset_sequences=False, allow_cascade=False):
        if reset_sequences or allow_cascade:
            return truncate(self, style, tables, reset_sequences=reset_sequences, allow_cascade=allow_cascade)
        return [
            f"{style.SQL_KEYWORD('DELETE FROM')} {style.SQL_FIELD(self.quote_name(table))};"
            for table in tables
            if table not in kept
        ]

    DatabaseOperations.sql_flush = delete
    yield
    DatabaseOperations.sql_flush = truncate


@pytest.fixture(autouse=True)
def no_random_faults(settings):
    """Random faults are off unless a test turns them on; rules and tokens still apply."""
    settings.SIMULATORS = {"TRANSIENT_ERROR_RATE": 0.0, "AMBIGUOUS_TIMEOUT_RATE": 0.0, "LATENCY_MS": 0}


@pytest.fixture(autouse=True)
def ledger_mail(settings):
    """Mail goes to the simulated mailbox (pytest-django would switch to locmem)."""
    settings.EMAIL_BACKEND = "fulfillment.simulators.mailbox.LedgerEmailBackend"


@pytest.fixture(autouse=True)
def fresh_flow_control():
    """Each test starts with no step health remembered by this process, and with pacing and
    retry backoffs that draw the same numbers every run."""
    health.forget()
    pacing.rng.seed(16)
    random.seed(16)
    yield
    health.forget()


@pytest.fixture
def morning():
    """The engine's clock frozen at 08:00 UTC today. A sentence gives a time's date only when
    it is not today, so a test that reads times in sentences, run late in the evening, would
    meet a deadline or a probe written with the date of tomorrow, or cross midnight between
    what it did and what it reads. `clock.advance()` moves it on."""
    with clock.frozen(clock.now().replace(hour=8, minute=0, second=0, microsecond=0)):
        yield clock.now()


@pytest.fixture
def catalogue():
    return make_catalogue()


def pytest_collection_modifyitems(items):
    """With pytest-xdist (`make test`, four processes on two cores), the soaks run one after
    another in one process, the infra soak (on servers of its own) in another, and the other
    tests that start worker clusters in a third, each beside the rest: they mostly wait on
    their workers, and the tests within the soaks' and the clusters' groups share Redis
    databases."""
    for item in items:
        fixtures = getattr(item, "fixturenames", ())
        if "run_infra_soak" in fixtures:
            item.add_marker(pytest.mark.xdist_group("infra_soak"))
        elif "run_soak" in fixtures:
            item.add_marker(pytest.mark.xdist_group("soaks"))
        elif item.get_closest_marker("cluster"):
            item.add_marker(pytest.mark.xdist_group("clusters"))
