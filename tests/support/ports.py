"""Free loopback ports for the servers a test starts (SMTP, an OIDC provider, uvicorn)."""

import socket

LOOPBACK = "127.0.0.1"


def free_port() -> int:
    # The OS picks a free port for a socket bound to port 0; aiosmtpd's Controller cannot
    # take port=0 itself (it connects to its own port to check that it is up).
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((LOOPBACK, 0))
        port: int = probe.getsockname()[1]
        return port
