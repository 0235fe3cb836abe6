import sys

from chaos_operator.cli.main import main

sys.exit(main())
