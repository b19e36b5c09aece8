"""zkflpq Flower example app: ``flwr run .`` (see pyproject.toml)."""
