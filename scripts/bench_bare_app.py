"""The baseline of ``scripts/bench api``: a bare Flask JSON endpoint, served the same way."""

from flask import Flask, jsonify, request

app = Flask(__name__)


@app.post("/api/v1/eligibility-checks")
def echo():
    body = request.get_json()
    return jsonify({"eligibility": {"validity": "valid", "number": body["number"]}})
