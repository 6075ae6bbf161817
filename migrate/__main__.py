from migrate.entry import main

raise SystemExit(main())
