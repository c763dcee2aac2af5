"""Adverse-event reporting: reports, their regulatory forms and their files."""
