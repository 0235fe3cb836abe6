import sys

from chaos_operator.cli import main

sys.exit(main())
