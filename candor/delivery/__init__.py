"""Getting a message to a person: the channel port every sender implements (`ports`), and
the one loop that claims committed deliveries, sends them with a timeout and records what
happened (`loop`)."""
