"""The front-desk page (``/``) and the patient page (``/patient``): plain HTML, CSS and JavaScript
modules served by the service, loading nothing from elsewhere; their card steps go through the
reader station (``app.frontdesk.station``)."""

from __future__ import annotations

from flask import Blueprint, render_template

pages = Blueprint(
    "frontdesk",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/frontdesk/static",
)


@pages.route("/")
def front_desk() -> str:
    return render_template("frontdesk.html", script="js/frontdesk.js")


@pages.route("/patient")
def patient() -> str:
    return render_template("patient.html", script="js/patient.js")
