"""FHIR R4 views under JP Core: a thin HTTP layer over the use cases, like ``app.web``."""
