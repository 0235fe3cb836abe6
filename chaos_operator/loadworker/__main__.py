import sys

from chaos_operator.loadworker.worker import main

sys.exit(main())
