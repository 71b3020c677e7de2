from tariq.cli import main

raise SystemExit(main())
