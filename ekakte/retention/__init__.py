"""Retention: rules and due dates (rules, schedule), legal holds (holds), the nightly sweep (sweep)."""
