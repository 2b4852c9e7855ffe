"""The resources of the code location, for the ``FTI_HOME`` resolved in ``ml.common.settings``."""

import dagster as dg

from ml.common.settings import paths
from orchestration.lib.resources import resources_for


@dg.definitions
def resources() -> dg.Definitions:
    return dg.Definitions(resources=resources_for(paths()))
