"""The JSON API over the use cases (Flask, flask-smorest, marshmallow at the edge): parse, call one
use case, serialise. Errors keep one shape (``app.web.errors``)."""
