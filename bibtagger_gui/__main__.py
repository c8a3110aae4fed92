from bibtagger_gui.cli import main

raise SystemExit(main())
