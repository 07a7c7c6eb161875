"""lstm_repro: the LSTM-vs-RNN chapter's claims and numbers as runnable checks.

Modules follow the data flow config -> data -> models -> train -> result; see README.md.
"""

__version__ = "0.1.0"
