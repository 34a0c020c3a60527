"""``python -m kuhu_driver.testing``: run the emulator until Ctrl-C."""

from kuhu_driver.testing._main import emulator_main

raise SystemExit(emulator_main())
