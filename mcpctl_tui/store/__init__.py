"""The SQL store: models, engine set-up, migrations and query functions."""
