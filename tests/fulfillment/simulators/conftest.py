import pytest

from fulfillment.simulators import faults
from fulfillment.simulators.carrier import CarrierSimulator
from fulfillment.simulators.payment import PaymentGatewaySimulator

SIMULATORS_DB = pytest.mark.django_db(transaction=True, databases=["default", "simulators"])


@pytest.fixture
def gateway():
    return PaymentGatewaySimulator()


@pytest.fixture
def carrier():
    return CarrierSimulator()


class FixedRandom:
    """Stands in for the simulators' random source: always returns `value`."""

    def __init__(self, value: float):
        self.value = value

    def random(self) -> float:
        return self.value


@pytest.fixture
def dice(monkeypatch):
    """Call dice(0.0) to make every random fault fire, dice(0.99) to make none fire."""

    def fix(value: float):
        monkeypatch.setattr(faults, "_rng", FixedRandom(value))

    return fix
