"""`python -m lstm_repro`: the same program as `lstm-repro`."""

import sys

try:
    from lstm_repro.cli import main
except KeyboardInterrupt:  # Ctrl-C while Python is still importing: one line, no traceback
    sys.stderr.write("lstm-repro: interrupted\n")
    raise SystemExit(130) from None

raise SystemExit(main())
