"""data.py: Keras's preprocessing rules by hand and the batching pipelines."""

from __future__ import annotations

import numpy as np
import pytest

from lstm_repro.data import keras_imdb_rules, make_pipelines
from lstm_repro.synthetic import make_synthetic


def test_keras_rules_by_hand():
    x, y = [[1, 2, 3], [7]], np.array([1, 0])
    x_tr, y_tr, _, _ = keras_imdb_rules(x, y, x, y, num_words=8, max_len=3, shuffle_seed=None)
    # review 0: [1, 1+3, 2+3, 3+3] = [1, 4, 5, 6] -> truncated pre to the last 3
    # review 1: [1, 7+3=10 -> OOV 2] -> pre-padded
    np.testing.assert_array_equal(x_tr, [[4, 5, 6], [0, 1, 2]])
    np.testing.assert_array_equal(y_tr, [1, 0])


def test_keras_shuffle_seed_113_orders_reviews_and_labels_together():
    """Keras shuffles each split with RandomState(113); labels must follow their reviews."""
    x = [[i] for i in range(10)]
    y = np.arange(10) % 2
    x_tr, y_tr, _, _ = keras_imdb_rules(x, y, x[:1], y[:1], num_words=100, max_len=2)
    order = np.arange(10)
    np.random.RandomState(113).shuffle(order)
    np.testing.assert_array_equal(x_tr[:, 1], order + 3)
    np.testing.assert_array_equal(y_tr, order % 2)


def test_pipelines_shuffle_by_seed_and_keep_every_test_sample():
    ds = make_synthetic(n_train=300, n_test=70, seed=2, num_words=10000, max_len=16)

    def first_epoch(seed):
        train, _ = make_pipelines(ds, batch_size=32, seed=seed, shuffle_buffer=1000)
        return np.concatenate([x.numpy() for x, _ in train])

    assert len(first_epoch(1)) == 9 * 32  # drop_remainder on train
    np.testing.assert_array_equal(first_epoch(1), first_epoch(1))
    assert not np.array_equal(first_epoch(1), first_epoch(2))
    _, test = make_pipelines(ds, batch_size=32, seed=1, shuffle_buffer=1000)
    np.testing.assert_array_equal(np.concatenate([y.numpy() for _, y in test]), ds.y_test)


def test_the_real_review_probe_moves_the_same_window_and_nothing_else():
    """place_window (--data imdb-early / imdb-late): the same padded window of each review,
    first or last of max_len, padding elsewhere, labels and order unchanged, the source's
    identity kept under the probe's name. Kills: an early layout that takes the review's first
    words instead of the window the control sees, a window shifted by one, labels reordered."""
    import pytest

    from lstm_repro.data import Dataset, place_window
    from lstm_repro.errors import ReproError

    rng = np.random.default_rng(0)
    x = rng.integers(1, 50, size=(6, 4)).astype(np.int32)
    x[0, :2] = 0  # a review shorter than the window keeps its own leading padding
    y = np.array([0, 1, 1, 0, 1, 0], dtype=np.int32)
    window = Dataset("imdb", "f.tar.gz", "s" * 64, x, y, x[::-1], y[::-1], tokenizer="t-v1")
    early = place_window(window, max_len=10, position="early")
    late = place_window(window, max_len=10, position="late")
    for placed, span, rest in (
        (early, slice(0, 4), slice(4, 10)),
        (late, slice(6, 10), slice(0, 6)),
    ):
        np.testing.assert_array_equal(placed.x_train[:, span], x)
        np.testing.assert_array_equal(placed.x_test[:, span], x[::-1])
        assert not placed.x_train[:, rest].any() and placed.x_train.shape == (6, 10)
        np.testing.assert_array_equal(placed.y_train, y)
        assert (placed.sha256, placed.tokenizer) == ("s" * 64, "t-v1")
    assert (early.name, late.name) == ("imdb-early", "imdb-late")
    assert early.identity()["official"] is False
    with pytest.raises(ReproError, match="'early' or 'late'"):
        place_window(window, max_len=10, position="middle")


def test_data_and_synthetic_do_not_import_each_other():
    """Data flows one way (STYLE.md): synthetic.py builds on corpus.py, data.py on both.
    Kills: synthetic.py importing data.py again (the circle issue 20 removed), or corpus.py
    importing either, read from the modules' own source."""
    import ast
    import inspect

    import lstm_repro.corpus
    import lstm_repro.synthetic

    def imported(module) -> set[str]:
        tree = ast.parse(inspect.getsource(module))
        names = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module:
                names.add(node.module)
            elif isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
        return {n for n in names if n.startswith("lstm_repro")}

    assert "lstm_repro.data" not in imported(lstm_repro.synthetic)
    assert not imported(lstm_repro.corpus) & {"lstm_repro.data", "lstm_repro.synthetic"}


def test_on_jax_and_torch_each_seed_orders_the_batches_its_own_way(monkeypatch):
    """make_pipelines off TensorFlow (keras.utils.PyDataset): the run's seed decides the
    order, afresh each epoch. Kills: a constant shuffle seed there (TensorFlow's global seed
    hides one on tf.data; nothing would on JAX or PyTorch), an order that never changes
    between epochs, and a seed that does not repeat itself."""
    import keras
    import numpy as np

    from lstm_repro.data import Dataset, make_pipelines

    monkeypatch.setattr(keras.backend, "backend", lambda: "jax")
    x = np.arange(64, dtype="int32").reshape(64, 1)  # (samples, 1): the id is the sample
    y = np.zeros(64, dtype="int32")
    data = Dataset("random", "test", "-", x, y, x[:8], y[:8])

    def first_ids(seed, epochs=1):
        train, _ = make_pipelines(data, batch_size=8, seed=seed, shuffle_buffer=64)
        for _ in range(epochs - 1):
            train.on_epoch_end()
        return [int(v) for i in range(len(train)) for v in train[i][0][:, 0]]

    assert first_ids(0) == first_ids(0)
    assert first_ids(0) != first_ids(1)
    assert first_ids(0, epochs=2) != first_ids(0)
    assert sorted(first_ids(1)) == list(range(64))  # a permutation: every sample once


def test_each_data_source_is_one_row_that_every_user_reads(tmp_path, capsys):
    """corpus.SOURCES is the one table of --data choices. For each row: load_dataset yields a
    Dataset of the row's `dataset` name; RunSpec.from_record maps that Dataset back to the
    row's kind (the memory task by its position); the CLI offers the kind with the row's help.
    Kills: a source whose name is spelled differently in one user (data, config's record
    reader, cli, gate's key), the memory positions swapped when a record is read back, and a
    real-review kind that does not take --imdb-path, a row's position not its kind's."""
    import craft

    from lstm_repro.cli import main
    from lstm_repro.config import RunSpec, TrainConfig
    from lstm_repro.corpus import IMDB_KINDS, REAL_DATASETS, SOURCES
    from lstm_repro.data import load_dataset

    npz = craft.write(tmp_path / "imdb.npz", craft.zip_bytes(craft.imdb_members(**craft.SMALL)))
    for row in SOURCES:
        path = str(npz) if row.reads_imdb else None
        ds = load_dataset(
            row.kind, num_words=100, max_len=12, seed=3, imdb_path=path,
            train_samples=2, test_samples=2, synthetic_size=8,
        )  # fmt: skip
        assert ds.name == (row.dataset or "imdb"), row.kind  # auto: the named file
        assert row.position is None or row.kind.endswith(row.position)
        record = {
            "model": "fused-lstm",
            "config": TrainConfig().to_dict(),
            "dataset": {**ds.identity(), "train_size": 2, "test_size": 2},
        }
        back = RunSpec.from_record(record)
        assert back.data == (row.kind if row.dataset else "imdb"), row.kind
        assert back.imdb_path == path
    assert set(IMDB_KINDS) == {"auto", "imdb", "imdb-early", "imdb-late"}
    assert set(REAL_DATASETS) == {"imdb", "imdb-early", "imdb-late"}
    with pytest.raises(SystemExit):
        main(["reproduce", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for row in SOURCES:
        assert f"{row.kind}: {' '.join(row.help.split())}" in text
