"""One router per resource: params, clients, aggregators, decryptions."""
