"""The sandbox cluster: an emulated Kubernetes API server for the VitiStack CRDs.

It stands alone, as a real API server would: it reads the CRD YAML and nothing
else of Vitiweb. kubectl and the official Python client talk to it as to a real
cluster (discovery, OpenAPI v3, CRUD, list/watch, patches, server-side apply,
dry-run, validation, tokens, TLS).

Python API:

    from vitiweb.sandbox import Sandbox, SandboxFleet, Token, Rule

    sb = Sandbox(                      # the project's crds/ are installed
        port=0,                        # 0: a free port; stop()/start() keep it
        token="secret",                # or tokens=[Token("t", user="viewer", deny=[Rule(verbs=("watch",), ...)])]
        tls=True,                      # a generated CA, embedded in the kubeconfig
        history_size=10_000,           # changes kept for watch resumption and continue tokens
        bookmark_interval=60.0,        # seconds between BOOKMARK events on watches that allow them
        load="examples",               # manifests applied as `kubectl apply -f` would
        simulate=True, seed=0, simulate_interval=1.0,
    )
    url = sb.start()
    sb.write_kubeconfig(path, context_name="sandbox")
    sb.store.create(obj); sb.store.get("vitistack.io/v1alpha1", "Machine", name, namespace)
    sb.store.update(obj); sb.store.update_status(obj); sb.store.patch(...); sb.store.apply(obj, "manager")
    sb.store.delete(...); sb.store.list(...); sb.populate(machines=5000, ...)
    sb.faults.fail_next(3, status=429, retry_after=2, path_contains="machines", methods=["GET"])
    sb.faults.set_latency(0.2); sb.faults.drop_watches(abrupt=False); sb.faults.compact()
    sb.faults.restart(downtime=1.0); sb.faults.reset()
    sb.stop()

    with SandboxFleet(3, tls=True) as fleet:     # consecutive ports from base_port, or free ports
        fleet.write_kubeconfig(path)             # contexts sandbox-1 .. sandbox-3

HTTP endpoints of the sandbox itself, for tests only (when tokens are set, only a token without
deny rules reaches them: a token restricted to viewing cannot mint an unrestricted one):

    GET  /_sandbox/state      resourceVersion, history window, object counts, watches, faults, simulator
    GET  /_sandbox/faults     pending faults
    POST /_sandbox/faults     {"reset": true, "latency": 0.5,
                               "fail": {"count": 3, "status": 429, "retryAfter": 2,
                                        "pathContains": "machines", "methods": ["GET"]},
                               "compact": true, "dropWatches": true | {"abrupt": true},
                               "restart": {"downtime": 1.0}}
    POST /_sandbox/tokens     {"token": "t", "user": "viewer", "deny": [{"verbs": ["watch"],
                               "resources": ["machineproviders"], "namespaces": ["production"]}]}
    POST /_sandbox/populate   {"vitistacks": 50, "machine_providers": 150, "kubernetes_providers": 50,
                               "machines": 5000, "namespaces": 5, "seed": 0}

Where a client can tell, it answers as kube-apiserver 1.32 does (tests/sandbox/test_sandbox_fidelity.py):
a PUT of a custom object needs metadata.resourceVersion; Accept `as=PartialObjectMetadata[List]` gives
metadata only and an unacceptable Accept 406; bodies other than JSON/YAML are 415; CRDs terminate
through their finalizer; propagationPolicy and owner references are honoured by a garbage collector;
list options are validated; anonymous requests reach /version and the health paths only.

Pytest fixtures (vitiweb.sandbox.pytest_plugin): `sandbox`, `sandbox_kubeconfig`, `sandbox_factory`.
Command line: `python manage.py sandbox --help` (or `python -m vitiweb.sandbox --help`).
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
