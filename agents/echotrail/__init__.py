"""EchoTrail: the GUI agent's memory of its own past successes (explore, judge, store, retrieve,
inject), kept in SQLite and shared over the bus."""
