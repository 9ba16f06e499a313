"""``python -m streams.cli``: how workers and demos are started as child processes."""

from streams.cli.main import main

raise SystemExit(main())
