"""The sandbox cluster: an emulated Kubernetes API server for the VitiStack CRDs.

It stands alone, as a real API server would: it reads the CRD YAML and nothing
else of Vitiweb. Public API:

    from vitiweb.sandbox import Sandbox, SandboxFleet, Token, Rule

    with Sandbox() as sb:                      # the project's crds/ loaded, a free port
        sb.write_kubeconfig(path)
        sb.store.create({...})                 # direct access, watch events fire
        sb.faults.fail_next(2, status=429)
"""

from .auth import Rule, Token
from .errors import ApiError
from .sandbox import DEFAULT_CRDS_DIR, Sandbox, SandboxFleet
from .simulate import Simulator
from .store import Store, WriteOptions

__all__ = [
    "DEFAULT_CRDS_DIR",
    "ApiError",
    "Rule",
    "Sandbox",
    "SandboxFleet",
    "Simulator",
    "Store",
    "Token",
    "WriteOptions",
]
