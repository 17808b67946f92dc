"""One app's settings: a dict in Django's settings (`settings.PROCESSES`, `settings.API`, ...)
over the app's defaults, read when used, never at import, so tests and `override_settings`
change them at once (the pattern of DRF's `APISettings`, without its attribute magic)."""

from django.conf import settings


class AppSettings:
    def __init__(self, setting: str, defaults: dict):
        self.setting, self.defaults = setting, defaults

    def values(self) -> dict:
        """Every key, the configured value over the default."""
        return {**self.defaults, **getattr(settings, self.setting, {})}

    def get(self, name: str):
        return self.values()[name]

    def unknown(self) -> list[str]:
        """Configured keys the app does not have (a typo), sorted, for its system check."""
        return sorted(set(getattr(settings, self.setting, {})) - set(self.defaults))
