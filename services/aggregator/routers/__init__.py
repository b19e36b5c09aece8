"""One router per resource: params, clients, rounds (incl. model and close), updates."""
