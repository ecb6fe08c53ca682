"""Working days on China's official calendar and the 5-working-day feedback deadline."""
