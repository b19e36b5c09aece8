"""Code shared by the services and the client agent (protocol has no FastAPI import)."""
