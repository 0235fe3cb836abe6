import sys

from chaos_operator.agent.cli import main

sys.exit(main())
