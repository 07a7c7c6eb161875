"""`reproduce` flags for runs whose size does not matter (what is tested is the plumbing)."""

TINY_RUN_FLAGS = [
    *("--set", "max_len=8", "--set", "units=8", "--set", "embedding_dim=8"),
    *("--set", "vocab_size=500", "--set", "batch_size=64"),
]
