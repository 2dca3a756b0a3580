"""The front-desk page (``/``) and the patient page (``/patient``): plain HTML, CSS and JavaScript
modules served by the service, loading nothing from elsewhere."""

from __future__ import annotations

from flask import Blueprint, render_template

blueprint = Blueprint(
    "frontdesk",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/frontdesk/static",
)


@blueprint.route("/")
def front_desk() -> str:
    return render_template("frontdesk.html", script="js/frontdesk.js")


@blueprint.route("/patient")
def patient() -> str:
    return render_template("patient.html", script="js/patient.js")
