# The usage app's models, split by owner: the price catalog, and what was metered.
from usage.models.catalog import *  # noqa: F401,F403
from usage.models.events import *  # noqa: F401,F403
