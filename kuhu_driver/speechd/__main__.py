"""``python -m kuhu_driver.speechd``: the module (what ``sd_kuhu`` runs)."""

import sys

from . import main

sys.exit(main())
