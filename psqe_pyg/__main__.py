from psqe_pyg.cli import main

raise SystemExit(main())
