"""The built wheel carries everything the service needs at run time, not only the Python modules."""

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUNTIME_FILES = (
    "app/frontdesk/templates/frontdesk.html",
    "app/frontdesk/templates/patient.html",
    "app/frontdesk/static/js/frontdesk.js",
    "app/frontdesk/static/css/app.css",
    "app/migrations/env.py",
    "app/migrations/script.py.mako",
    "app/migrations/versions/0001_initial_schema.py",
    "payer_registry/data/drugs.csv",
)


def test_wheel_holds_templates_assets_migrations_and_data(tmp_path):
    command = [
        sys.executable,
        "-m",
        "pip",
        "wheel",
        "--no-deps",
        "-q",
        "-w",
        str(tmp_path),
        str(ROOT),
    ]
    built = subprocess.run(command, capture_output=True, text=True)
    assert built.returncode == 0, built.stderr[-2000:]
    (wheel,) = tmp_path.glob("eligsim-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert [path for path in RUNTIME_FILES if path not in names] == []
    migrations = sorted(p.name for p in (ROOT / "app/migrations/versions").glob("*.py"))
    assert all(f"app/migrations/versions/{name}" in names for name in migrations)
