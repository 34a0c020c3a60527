"""``python -m kuhu_driver``: the kuhu-say command."""

from kuhu_driver.cli import main

raise SystemExit(main())
