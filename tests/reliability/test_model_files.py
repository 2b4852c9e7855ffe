"""Model files: skops with our own trusted types, a checksum taken at registration, and a
clear refusal when the stored file is not the one the gate judged."""

import ast
import os
from pathlib import Path

import pytest
import skops.io
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer

from ml.common.settings import REPO_ROOT
from ml.registry import model_registry
from ml.registry.model_registry import CHECKSUM_TAG, MODEL_NAME, ModelFileError
from ml.training import trainer
from tests.helpers import register, small, synthetic


@pytest.fixture
def registered(fti_home):
    client = model_registry.configure(fti_home)
    params = small(10)
    model = trainer.fit(synthetic(300, seed=1), params)
    version = register(client, model, synthetic(150, seed=2), params).version
    model_registry._load_cached.cache_clear()
    files = list(fti_home.artifact_root.rglob("model.skops"))
    assert len(files) == 1
    return client, version, files[0]


def test_the_checksum_is_recorded_and_a_clean_file_loads(registered):
    client, version, stored = registered
    tag = client.get_model_version(MODEL_NAME, version).tags[CHECKSUM_TAG]
    assert len(tag) == 64 and tag == model_registry._sha256(stored)
    assert isinstance(model_registry.load_version(client, version), Pipeline)


def test_a_tampered_model_file_is_refused_by_name(registered):
    client, version, stored = registered
    data = bytearray(stored.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one flipped byte, as a bad disk or a hand would do
    stored.write_bytes(bytes(data))
    with pytest.raises(ModelFileError, match=r"model\.skops changed after registration"):
        model_registry.load_version(client, version)


def test_a_replaced_file_with_untrusted_types_is_refused_even_with_a_matching_checksum(
    registered,
):
    """An attacker who can also rewrite the tag still cannot make us build `os.system`."""
    client, version, stored = registered
    evil = Pipeline([("run", FunctionTransformer(os.system))])
    skops.io.dump(evil, stored)
    client.set_model_version_tag(MODEL_NAME, version, CHECKSUM_TAG, model_registry._sha256(stored))
    with pytest.raises(ModelFileError, match="outside the trusted list"):
        model_registry.load_version(client, version)


def test_a_truncated_file_is_refused_with_a_reason(registered):
    client, version, stored = registered
    stored.write_bytes(stored.read_bytes()[:100])
    client.set_model_version_tag(MODEL_NAME, version, CHECKSUM_TAG, model_registry._sha256(stored))
    with pytest.raises(ModelFileError, match="cannot be read"):
        model_registry.load_version(client, version)


def test_no_module_unpickles():
    """pickle, joblib and cloudpickle load arbitrary code; the product never imports them."""
    banned = {"pickle", "cPickle", "joblib", "cloudpickle", "dill"}
    offenders = []
    for folder in ("ml", "app", "orchestration", "bench"):
        for path in (REPO_ROOT / folder).rglob("*.py"):
            tree = ast.parse(path.read_text())
            for node in ast.walk(tree):
                names = []
                if isinstance(node, ast.Import):
                    names = [alias.name.split(".")[0] for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.module:
                    names = [node.module.split(".")[0]]
                offenders += [
                    f"{Path(path).relative_to(REPO_ROOT)}: {n}" for n in names if n in banned
                ]
    assert offenders == []
