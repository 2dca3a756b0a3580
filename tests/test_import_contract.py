"""The import contract between the parts and layers (pyproject.toml) holds, and it does catch a
forbidden import: each case adds one to a copy of the source tree and expects lint-imports to fail."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LINT_IMPORTS = str(Path(sys.executable).with_name("lint-imports"))


def lint_imports(tree: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [LINT_IMPORTS, "--no-cache"],
        cwd=tree,
        env={"PYTHONPATH": str(tree), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.fixture(scope="module")
def source_copy(tmp_path_factory) -> Path:
    tree = tmp_path_factory.mktemp("tree")
    for package in ("app", "card_reader", "payer_registry"):
        shutil.copytree(ROOT / package, tree / package, ignore=shutil.ignore_patterns("static"))
    shutil.copy(ROOT / "pyproject.toml", tree)
    return tree


def test_the_tree_keeps_the_contract():
    done = lint_imports(ROOT)
    assert done.returncode == 0, done.stdout[-3000:]


@pytest.mark.parametrize(
    ("module", "forbidden", "contract"),
    [
        ("card_reader/apdu.py", "import payer_registry.identifiers", "card_reader is the card"),
        ("payer_registry/limits.py", "import app.service.consent", "payer_registry holds"),
        ("app/service/consent.py", "import flask", "the use-case layer knows no Flask"),
        ("app/client/client.py", "import sqlalchemy", "the integrators' client"),
        ("app/frontdesk/desk.py", "import app.web.api.visits", "not the API's views"),
        ("app/web/auth.py", "import app.frontdesk.desk", "the service's layers"),
    ],
)
def test_a_forbidden_import_breaks_the_contract(source_copy, module, forbidden, contract):
    path = source_copy / module
    original = path.read_text(encoding="utf-8")
    path.write_text(f"{original}\n{forbidden}  # noqa\n", encoding="utf-8")
    try:
        done = lint_imports(source_copy)
    finally:
        path.write_text(original, encoding="utf-8")
    assert done.returncode != 0
    broken = [line for line in done.stdout.splitlines() if " BROKEN" in line]
    assert len(broken) >= 1 and any(contract in line for line in broken), done.stdout[-3000:]
