"""The Spark session the project opens, configured for a shared machine or a cluster.

dbt-spark's ``session`` method starts Spark inside the dbt process with the profile's
``server_side_parameters``; the training set and batch scoring open a session here with the
same settings (``conf``; a test holds the profile to it). Without them Spark takes every core,
writes ``metastore_db/``, ``derby.log`` and ``spark-warehouse/`` into the current directory
(and a second process on that Derby store fails), stores timestamps as INT96 and in the local
time zone, serves a UI, and draws progress bars into dbt's log.

A cluster is configuration only: ``FTI_SPARK_MASTER`` (e.g. ``spark://host:7077``) for a
standalone master, or ``SPARK_REMOTE=sc://host:15002`` for a Spark Connect server, which
pyspark picks up instead of starting a JVM here.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from ml.common.settings import Paths
from ml.engines import EngineError


def spark_home(paths: Paths) -> Path:
    """Spark's own files: the table warehouse, the metastore, the exported sources."""
    return paths.home / "spark"


def warehouse_dir(paths: Paths) -> Path:
    return spark_home(paths) / "warehouse"


def sources_dir(paths: Paths) -> Path:
    return spark_home(paths) / "sources"


def master() -> str:
    return os.environ.get("FTI_SPARK_MASTER", "local[2]")


def environment(paths: Paths) -> dict[str, str]:
    """What dbt's profile and the Spark jobs read to run on Spark against ``paths``.

    The master goes to pyspark's launcher, not to the profile: Spark refuses a session that
    names both a master and a Spark Connect server (SPARK_REMOTE)."""
    env = {
        "FTI_ENGINE": "spark",
        "FTI_SPARK_HOME": str(spark_home(paths)),
        "FTI_SPARK_SOURCES": str(sources_dir(paths)),
    }
    if not os.environ.get("SPARK_REMOTE"):
        env["PYSPARK_SUBMIT_ARGS"] = f"--master {master()} pyspark-shell"
    return env


def conf(paths: Paths) -> dict[str, str]:
    """The settings of every session, as dbt's profile (dbt_project/profiles.yml) gives them.
    A Spark Connect server keeps its own static settings (warehouse, memory) and takes the
    session ones (time zone, timestamp type)."""
    home = spark_home(paths)
    return {
        "spark.driver.memory": os.environ.get("FTI_SPARK_DRIVER_MEMORY", "4g"),
        "spark.sql.warehouse.dir": f"{home}/warehouse",
        "spark.driver.extraJavaOptions": f"-Dderby.system.home={home}/metastore",
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.timestampType": "TIMESTAMP_NTZ",
        "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
        "spark.sql.shuffle.partitions": os.environ.get("FTI_SPARK_SHUFFLE_PARTITIONS", "8"),
        "spark.ui.enabled": "false",
        # The progress bar writes into dbt's structured log lines, which Dagster then cannot
        # read (a model built but never reported).
        "spark.ui.showConsoleProgress": "false",
    }


def session(paths: Paths):
    """A Spark session on the project's metastore (started once per process)."""
    try:
        from pyspark.sql import SparkSession
    except ImportError as exc:
        raise EngineError("the Spark engine is not installed: run `make install-spark`") from exc
    spark_home(paths).mkdir(parents=True, exist_ok=True)
    builder = SparkSession.builder.appName("fti")
    if os.environ.get("SPARK_REMOTE"):
        # A Connect server has its own warehouse and metastore; only session settings apply.
        builder = builder.remote(os.environ["SPARK_REMOTE"])
        for key in ("spark.sql.session.timeZone", "spark.sql.timestampType"):
            builder = builder.config(key, conf(paths)[key])
        return builder.getOrCreate()
    builder = builder.master(master()).enableHiveSupport()
    # Python workers (scoring's mapInPandas) run this interpreter, with the project's packages.
    builder = builder.config("spark.pyspark.python", sys.executable)
    for key, value in conf(paths).items():
        builder = builder.config(key, value)
    return builder.getOrCreate()
