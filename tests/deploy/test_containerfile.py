"""The Containerfile keeps its invariants, checked without a container engine (none runs on the test machines:
no Docker daemon, no BuildKit, no registry to pull the base from): pinned, multi-stage, non-root, and an
emulated build of its copy and collectstatic steps from which every role's command starts."""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from tests.deploy.manifests import DEPLOY, ROOT, production_command

TEXT = (DEPLOY / "Containerfile").read_text()


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    joined = re.sub(r"\\\n", " ", TEXT)
    lines = [line.strip() for line in joined.splitlines()]
    return [tuple(line.split(None, 1)) for line in lines if line and not line.startswith("#")]


def build_args() -> dict[str, str]:
    return dict(arg.split("=", 1) for name, arg in instructions() if name == "ARG" and "=" in arg)


def base_images() -> list[str]:
    args = build_args()
    bases = []
    for name, rest in instructions():
        if name == "FROM":
            image = rest.split()[0]
            bases.append(re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], image))
    return bases


def test_every_stage_starts_from_an_exactly_pinned_python_base():
    bases = base_images()
    assert len(bases) >= 2  # multi-stage: the build tools stay out of the runtime image
    for image in bases:
        assert "latest" not in image
        # An exact release (3.11.7), not a moving tag (3.11, 3-slim), or a digest.
        assert re.search(r"python:3\.11\.\d+-slim-bookworm(@sha256:[0-9a-f]{64})?$", image) or re.search(
            r"@sha256:[0-9a-f]{64}$", image
        ), image


def test_the_image_runs_as_a_non_root_user():
    users = [rest for name, rest in instructions() if name == "USER"]
    assert users, "no USER: the image would run as root"
    user = users[-1].split(":")[0]
    assert user.isdigit() and int(user) != 0  # numeric, so runAsNonRoot can verify it


def test_static_files_are_collected_and_bytecode_compiled_at_build_time():
    runs = " ".join(rest for name, rest in instructions() if name == "RUN")
    assert "manage.py collectstatic --no-input" in runs
    assert "compileall" in runs
    env = " ".join(rest for name, rest in instructions() if name == "ENV")
    assert "PYTHONDONTWRITEBYTECODE=1" in env  # nothing written under a read-only root
    assert "VITIWEB_VAR_DIR=/var/lib/vitiweb" in env


def test_the_default_command_is_the_readmes_production_web_command():
    cmd = json.loads(next(rest for name, rest in instructions() if name == "CMD"))
    assert cmd == [word for word in production_command() if "=" not in word]
    env = " ".join(rest for name, rest in instructions() if name == "ENV")
    assert "DEBUG=0" in env


def test_no_test_tooling_is_installed_into_the_image():
    assert "sed -n '/^# Runtime/,/^# Tests/p' requirements.txt" in TEXT
    requirements = (DEPLOY.parent / "requirements.txt").read_text()
    runtime = requirements[requirements.index("# Runtime") : requirements.index("# Tests")]
    assert "pytest" not in runtime and "playwright" not in runtime


# -- what the build copies, and the build's own steps on that copy ------------------------------------------

#: Tracked top-level entries the image leaves out on purpose; every other one must be copied.
LEFT_OUT = {
    ".ci": "CI configuration",
    ".containerignore": "build context rules",
    ".gitignore": "Git's",
    ".pre-commit-config.yaml": "developer hooks",
    "Makefile": "developer commands",
    "README.md": "documentation",
    "pyproject.toml": "tool settings (ruff, pytest)",
    "deploy": "the image and manifests themselves",
    "tests": "test code (the runtime half of requirements.txt has no test tooling either)",
}
BUILD_DIR = "/src"


def stages() -> list[list[tuple[str, str]]]:
    """The instructions of each stage (after its FROM)."""
    found = []
    for name, rest in instructions():
        if name == "FROM":
            found.append([])
        elif found:
            found[-1].append((name, rest))
    return found


def build_stage() -> list[tuple[str, str]]:
    return stages()[0]


def copied() -> dict[str, str]:
    """{source in the build context: destination under the build stage's WORKDIR} of the build stage."""
    workdir, pairs = "/", {}
    for name, rest in build_stage():
        if name == "WORKDIR":
            workdir = rest
        elif name == "COPY":
            *sources, destination = rest.split()
            assert not any(s.startswith("--") for s in sources), rest  # no --from in the build stage
            for source in sources:
                target = destination if destination.startswith("/") else f"{workdir}/{destination}"
                if target.endswith("/"):
                    target += Path(source).name
                pairs[source] = str(Path(target)).removeprefix(BUILD_DIR + "/")
    return pairs


def ignored_patterns() -> list[str]:
    lines = (ROOT / ".containerignore").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def ignored(relative: str) -> bool:
    """Whether ``.containerignore`` keeps ``relative`` (or a folder holding it) out of the build context."""
    parts = relative.split("/")
    candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    for pattern in ignored_patterns():
        regex = re.escape(pattern).replace(r"\*\*/", "(.*/)?").replace(r"\*\*", ".*").replace(r"\*", "[^/]*")
        if any(re.fullmatch(regex, candidate) for candidate in candidates):
            return True
    return False


def test_every_app_and_every_directory_the_code_reads_is_copied_and_nothing_else_is_missed():
    from django.conf import settings

    sources = copied()
    for source in sources:
        assert (ROOT / source).exists(), f"COPY {source}: not in the repository"
        assert not ignored(source), f"COPY {source}: .containerignore keeps it out of the build context"
        assert sources[source] == source, f"COPY {source} -> {sources[source]}: the tree must keep its layout"
    local_apps = {app.split(".")[0] for app in settings.INSTALLED_APPS if (ROOT / app.split(".")[0]).is_dir()}
    read_dirs = [*settings.TEMPLATES[0]["DIRS"], *settings.STATICFILES_DIRS]
    read_dirs += [settings.VITIWEB_CRDS_DIR, settings.VITIWEB_EXAMPLES_DIR]
    required = local_apps | {Path(d).relative_to(settings.BASE_DIR).parts[0] for d in read_dirs}
    assert required - set(sources) == set(), "the image would lack these"
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    top_level = {line.split("/")[0] for line in tracked.splitlines()}
    undecided = top_level - set(sources) - set(LEFT_OUT)
    assert undecided == set(), "copy these into the image or list them in LEFT_OUT with the reason"
    assert {"tests", ".git", ".venv", "var"} <= {
        source for source in ["tests", ".git", ".venv", "var"] if ignored(source)
    }


def emulated_build(tmp_path: Path) -> Path:
    """The build stage's tree, made here: its COPY instructions, then its RUN steps that touch the tree.

    No container engine runs on the test machines, so the image itself is not built; what can be
    checked without one is: the files the build copies are the ones the code needs, and the build's
    own commands (collectstatic with the settings the RUN line gives) succeed on that copy.
    """
    tree = tmp_path / "src"
    tree.mkdir()
    for source, destination in copied().items():
        origin, target = ROOT / source, tree / destination
        if origin.is_dir():
            shutil.copytree(origin, target, ignore=_ignored_names)
        else:
            shutil.copy2(origin, target)
    for name, rest in build_stage():
        if name == "RUN" and "collectstatic" in rest:
            step = next(part for part in rest.split("&&") if "collectstatic" in part)
            step = step.replace("/opt/venv/bin/python", sys.executable).replace(BUILD_DIR, str(tree))
            step = step.replace("/tmp/build-var", str(tmp_path / "build-var"))
            result = subprocess.run(
                ["sh", "-c", step], cwd=tree, env=_clean_env(), capture_output=True, text=True, timeout=240
            )
            assert result.returncode == 0, result.stderr
    return tree


def _ignored_names(folder: str, names: list[str]) -> list[str]:
    return [name for name in names if ignored(str((Path(folder) / name).relative_to(ROOT)))]


def _clean_env() -> dict[str, str]:
    """This process's environment without what the test run set for Django (the image sets its own)."""
    drop = {"DJANGO_SETTINGS_MODULE", "DATABASE_URL", "REDIS_URL", "DEBUG", "DJANGO_ALLOW_ASYNC_UNSAFE"}
    return {k: v for k, v in os.environ.items() if k not in drop and not k.startswith("VITIWEB_")}


def runtime_env(app: Path) -> dict[str, str]:
    """The runtime stage's ENV, with its /app paths pointing into ``app``."""
    words = " ".join(rest for name, rest in stages()[-1] if name == "ENV").split()
    env = dict(word.split("=", 1) for word in words)
    env.pop("PATH")
    return {k: v.replace("/app", str(app)) for k, v in env.items()}


def test_the_build_steps_succeed_on_the_copied_tree_and_every_role_starts_from_it(tmp_path):
    tree = emulated_build(tmp_path)
    staticfiles = tree / "staticfiles"
    manifest = json.loads((staticfiles / "staticfiles.json").read_text())["paths"]
    for asset in ("vitiweb/vitiweb.css", "vitiweb/live.js", "vitiweb/charts.js"):
        hashed = staticfiles / manifest[asset]
        assert hashed.exists() and Path(f"{hashed}.gz").exists(), asset  # hashed, and compressed beside

    # The runtime stage copies this tree to /app and sets its ENV; every role's command imports the
    # project from there (``check`` loads every app and URL; ``help <role>`` each command's module).
    env = {
        **_clean_env(),
        **runtime_env(tree),
        "VITIWEB_VAR_DIR": str(tmp_path / "var"),
        "SECRET_KEY": "emulated-build-" + os.urandom(8).hex(),
        "VITIWEB_CREDENTIALS_KEYS": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
    }
    assert env["DEBUG"] == "0" and env["VITIWEB_STATIC_ROOT"] == str(staticfiles)
    script = "; ".join(
        [
            "import sys, django",
            "from django.core.management import call_command, get_commands, load_command_class",
            "django.setup()",
            "call_command('check')",
            "[load_command_class(get_commands()[role], role) for role in ('sync', 'derive', 'migrate', 'add_cluster')]",
            "import vitiweb.asgi, vitiweb.celery",
            "vitiweb.celery.app.loader.import_default_modules()",
            f"assert all(p.startswith({str(tree)!r}) for p in [m.__file__ for n, m in list(sys.modules.items())"
            " if n.split('.')[0] in ('vitiweb', 'stacks', 'gitops', 'clusters') and getattr(m, '__file__', None)])",
        ]
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=tree, env=env, capture_output=True, text=True, timeout=240
    )
    assert result.returncode == 0, result.stderr[-3000:]
