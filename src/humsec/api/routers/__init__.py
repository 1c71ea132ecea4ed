"""Routers of ``/api/v1``, one per area; each is built by a factory taking the
service configuration (bounds of the inputs) and adds only calls into the library."""
