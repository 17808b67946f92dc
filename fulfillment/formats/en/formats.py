"""Dates and times in the admin and the warehouse: "2026-12-06 10:00:12 UTC", not "Dec. 6, 2026, 10 a.m.".

Django localizes every date it renders with the active language's formats; this module replaces
English's (en, en-us) so the admin's lists, change pages and templates all write one sortable form
that names the zone. The API does not go through it: it answers in ISO 8601. Input formats are
Django's own (ISO first), so forms still read what they always read.
"""

DATE_FORMAT = "Y-m-d"
TIME_FORMAT = "H:i:s T"
DATETIME_FORMAT = "Y-m-d H:i:s T"
SHORT_DATE_FORMAT = "Y-m-d"
SHORT_DATETIME_FORMAT = "Y-m-d H:i T"
FIRST_DAY_OF_WEEK = 1  # Monday, as ISO 8601 has it
