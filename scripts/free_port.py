"""Print a free loopback port below the kernel's ephemeral range (20000-31999), so no outgoing
connection takes it before the server that asked binds it. Used by postgres.sh and redis.sh."""

import random
import socket

for _ in range(200):
    port = random.randrange(20000, 32000)
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            continue
    print(port)
    break
else:
    raise SystemExit("no free port between 20000 and 31999")
