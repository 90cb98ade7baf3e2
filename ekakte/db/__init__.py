"""The SQL side of the archive: models, engine and units of work, schema checks."""
