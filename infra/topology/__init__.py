"""The production topology on one machine, as real processes (`make topology`)."""
