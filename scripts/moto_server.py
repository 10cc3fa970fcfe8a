"""moto_server, with DynamoDB and DynamoDB Streams requests handled one at a time.

moto's server answers requests on threads, but its DynamoDB backend is not thread-safe: two
concurrent conditional writes can both pass their condition, a failed transaction restores a
table snapshot over a concurrent one's writes, and a stream reader can see the items of a
transaction that is still being applied and is then rolled back. Real DynamoDB makes every
write to an item, and every transaction, atomic; the contract tests race writes on purpose to
check that exactly one wins, and the relay must never see a write that did not commit. One
lock around every DynamoDB and DynamoDB Streams request (their `X-Amz-Target` starts with
`DynamoDB`) gives moto that atomicity, more coarsely: those requests are serialised. The
`/moto-api/` requests the tests read moto's models through are not: `data.json` walks every
backend, which takes seconds once a test run made hundreds of tables, and holding the lock
that long starved every other test's DynamoDB requests (a REST call timed out after 30 s). A
`data.json` read that meets a table changing under it fails instead, and the tests read it
again. SQS, SNS and S3 keep their threads, so SQS long polls block nothing.

One more repair: moto rolls a cancelled transaction back by putting a copy of each table in
place, and the copy carries a copy of the table's stream shard. A shard iterator taken before
then still points at the old shard, which keeps the rolled-back items — a reader would see
writes that never committed, and miss later ones. The rollback here truncates the live shard
back and keeps it on the restored table, so iterators stay valid and see only commits.

Usage: the same arguments as moto_server.
"""

import sys
import threading

from moto.dynamodb.models import DynamoDBBackend
from moto.moto_server.werkzeug_app import DomainDispatcherApplication
from moto.server import main

_lock = threading.Lock()
_dispatch = DomainDispatcherApplication.__call__


def _serialised(self, environ, start_response):  # type: ignore[no-untyped-def]
    exclusive = environ.get("HTTP_X_AMZ_TARGET", "").startswith("DynamoDB")
    if not exclusive:
        return _dispatch(self, environ, start_response)
    with _lock:
        # Drain the body inside the lock: the response is computed before the next request.
        return list(_dispatch(self, environ, start_response))


DomainDispatcherApplication.__call__ = _serialised  # type: ignore[method-assign]

_transact = DynamoDBBackend.transact_write_items


def _transact_keeping_shards(self, transact_items):  # type: ignore[no-untyped-def]
    shards = {
        name: (table.stream_shard, len(table.stream_shard.items))
        for name, table in self.tables.items()
        if table.stream_shard is not None
    }
    try:
        return _transact(self, transact_items)
    except Exception:
        for name, (shard, committed) in shards.items():
            del shard.items[committed:]
            table = self.tables.get(name)
            if table is not None and table.stream_shard is not shard:
                table.stream_shard = shard
                shard.table = table
        raise


DynamoDBBackend.transact_write_items = _transact_keeping_shards  # type: ignore[method-assign]

if __name__ == "__main__":
    sys.exit(main())
