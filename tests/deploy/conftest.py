from tests.e2e.conftest import browser  # noqa: F401  (one chromium per module, as in tests/e2e)
