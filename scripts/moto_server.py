"""moto_server, with DynamoDB requests handled one at a time.

moto's server answers requests on threads, but its DynamoDB backend is not thread-safe: two
concurrent conditional writes can both pass their condition, and a failed transaction restores
a table snapshot over a concurrent one's writes. Real DynamoDB makes every write to an item,
and every transaction, atomic; the contract tests race writes on purpose to check that exactly
one wins. One lock around DynamoDB's request dispatch gives moto that atomicity (more coarsely:
all DynamoDB requests are serialised). SQS, SNS and S3 keep their threads, so SQS long polls
block nothing.

Usage: the same arguments as moto_server.
"""

import sys
import threading

from moto.dynamodb.responses import DynamoHandler
from moto.server import main

_lock = threading.Lock()
_dispatch = DynamoHandler.call_action


def _serialised(self):  # type: ignore[no-untyped-def]
    with _lock:
        return _dispatch(self)


DynamoHandler.call_action = _serialised  # type: ignore[method-assign]

if __name__ == "__main__":
    sys.exit(main())
