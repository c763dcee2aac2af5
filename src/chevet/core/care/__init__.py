"""Care workflows, sans-I/O: duty rosters and shifts, urgent alerts and their escalation,
handover notes. Pure rules and state machines; the actions that use them are in ``app/care``."""
