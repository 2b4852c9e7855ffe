"""Plain-Python core of the FTI system: data, training, registry and scoring, no Dagster imports."""

from ml.common.threads import configure_environment

# Before scikit-learn or NumPy can start an OpenMP runtime (see ml/common/threads.py).
configure_environment()
