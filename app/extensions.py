"""The service's shared objects, created once per app and reached through small accessors."""

from __future__ import annotations

from flask import Flask, current_app
from flask_smorest import Api

from payer_registry.db import Registry
from payer_registry.settings import Settings


def register_registry(app: Flask, settings: Settings) -> None:
    registry = Registry.from_settings(settings)
    registry.create_schema()
    app.extensions["registry"] = registry


def register_api(app: Flask) -> Api:
    return Api(app)


def registry() -> Registry:
    return current_app.extensions["registry"]
