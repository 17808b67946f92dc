"""How the console writes dates and times (FORMAT_MODULE_PATH points here): one format, with the zone."""
