"""What a management command imports before it runs (issue 15: commands start fast).

A command's module and the app registry load in every process, so what they import at module level
every command pays for. Each test runs Django's management utility in a fresh interpreter and reads
what it left in ``sys.modules``. How long that takes is measured by tests/bench/bench_startup.py.
"""

import importlib
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

#: Libraries that only some commands, views or workers use: the Kubernetes client (talking to
#: clusters), Celery (sending and running tasks), Daphne's server and Twisted (serving), Plotly and
#: igraph (topology figures), Dulwich (Git sources), jsonschema (validating manifests), PyYAML.
HEAVY = (
    "kubernetes",
    "celery",
    "kombu",
    "twisted",
    "daphne.server",
    "plotly",
    "igraph",
    "dulwich",
    "jsonschema",
    "yaml",
)

IMPORTED_BY = """
import contextlib, io, json, sys
from django.core.management import execute_from_command_line
with contextlib.redirect_stdout(io.StringIO()) as help_text, contextlib.suppress(SystemExit):
    execute_from_command_line(["manage.py", *sys.argv[1:]])  # argparse exits after printing --help
print(json.dumps({"help": help_text.getvalue(), "modules": sorted(sys.modules)}))
"""


def imported_by(*command: str) -> tuple[str, set[str]]:
    """The output of ``manage.py *command`` and the modules imported by the time it returned."""
    environment = {**os.environ, "DJANGO_SETTINGS_MODULE": "vitiweb.settings"}
    result = subprocess.run(
        [sys.executable, "-c", IMPORTED_BY, *command], cwd=ROOT, env=environment, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    return report["help"], set(report["modules"])


def heavy_among(modules: set[str]) -> list[str]:
    return sorted(name for name in modules if name.startswith(tuple(f"{heavy}." for heavy in HEAVY)) or name in HEAVY)


def test_sync_help_imports_none_of_the_heavy_libraries():
    help_text, modules = imported_by("sync", "--help")

    assert "--once" in help_text
    assert heavy_among(modules) == []


def test_the_heavy_libraries_are_installed():
    """A misspelt or uninstalled name would never be imported, and the test above would prove nothing."""
    for name in HEAVY:
        importlib.import_module(name)


def test_a_sync_run_still_imports_what_it_needs():
    _, modules = imported_by("shell", "-c", "from vitiweb.management.commands.sync import Command; Command()")

    assert "kubernetes" not in modules  # building the command imports nothing heavy either
    _, modules = imported_by("shell", "-c", "import vitiweb.sync.engine, vitiweb.tasks")
    assert {"kubernetes", "celery"} <= modules
