"""Care workflows: who is on duty, urgent alerts that must be acknowledged and escalate,
handovers from one shift to the next."""
