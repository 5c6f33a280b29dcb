"""Domain state with no HTTP in it: personas, ids, control state (flags, faults, journal)."""
