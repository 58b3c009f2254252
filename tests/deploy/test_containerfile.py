"""The Containerfile keeps its invariants (no engine runs here to build it): pinned, multi-stage, non-root."""

import json
import re

from tests.deploy.manifests import DEPLOY, production_command

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
