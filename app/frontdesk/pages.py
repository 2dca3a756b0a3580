"""The front-desk page (``/``) and the patient page (``/patient``): plain HTML, CSS and JavaScript
modules served by the service, loading nothing from elsewhere.

Each page embeds the reader station's token for its own calls, and is sent with headers that let no
other site frame it and no injected markup run a script, load a style or send data elsewhere."""

from __future__ import annotations

from flask import Blueprint, Response, render_template

from app.frontdesk.station import page_token

blueprint = Blueprint(
    "frontdesk",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/frontdesk/static",
)
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "form-action 'self'",
    ]
)
PAGE_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


@blueprint.after_request
def _locked_down(response: Response) -> Response:
    response.headers.update(PAGE_HEADERS)
    return response


@blueprint.route("/")
def front_desk() -> str:
    return render_template("frontdesk.html", script="js/frontdesk.js", station_token=page_token())


@blueprint.route("/patient")
def patient() -> str:
    return render_template("patient.html", script="js/patient.js", station_token=page_token())
