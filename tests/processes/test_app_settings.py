"""One helper reads every app's settings: the configured value over the default, at call time."""

from processes.app_settings import AppSettings

DEFAULTS = {"WAIT": 30.0, "NAME": "x"}


def test_values_are_read_when_used_and_typos_are_named(settings):
    app = AppSettings("EXAMPLE_APP", DEFAULTS)
    assert app.get("WAIT") == 30.0 and app.unknown() == []

    settings.EXAMPLE_APP = {"WAIT": 5.0, "WIAT": 1, "EXTRA": 2}

    assert app.get("WAIT") == 5.0 and app.get("NAME") == "x"
    assert app.unknown() == ["EXTRA", "WIAT"]
