from tests.billing.localstripe_server import localstripe, localstripe_base  # noqa: F401 (fixtures)
