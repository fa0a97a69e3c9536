import sys

from lstm_equiv.harness.cli import main

sys.exit(main())
