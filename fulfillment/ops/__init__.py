"""Running the service in production: settings helpers, health probes, metrics and JSON logs."""
