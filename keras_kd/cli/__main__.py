"""`python -m keras_kd.cli`: the `keras-kd` command without the installed script."""

import sys

from keras_kd.cli import main

sys.exit(main())
