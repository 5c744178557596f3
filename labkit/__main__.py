"""`python -m labkit ...`"""

import sys

from labkit.tools.cli import main

sys.exit(main())
