"""The Python client of the front-desk API for integrators: requests and the card stack, no Flask and
no database (see ``app.client.client``)."""

from app.client.client import FrontDeskClient, FrontDeskError, VisitResult

__all__ = ["FrontDeskClient", "FrontDeskError", "VisitResult"]
