from lstm_repro.cli import main

raise SystemExit(main())
