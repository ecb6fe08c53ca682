"""Interview self-scheduling (issue 14): see candor.scheduling.service."""
