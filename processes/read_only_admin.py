"""The admin base for rows that only services write: shown to people, changed by nobody.

The engine's journal, its outbox, its incidents and its worker clusters use it, and so may a
domain's admin for its own append-only rows. A module of its own so that every admin module
can import it without importing the others.
"""

from django.contrib import admin


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows that only services write: the admin shows them, nobody adds, edits or deletes one."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
