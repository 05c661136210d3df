from gitrot.main import main

raise SystemExit(main())
