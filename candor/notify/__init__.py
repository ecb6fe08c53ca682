"""Telling HR people things by e-mail (SLA reminders, escalations, breaches)."""
