"""The scoring server's listening socket (operate/serve.py)."""

from __future__ import annotations

import socket

import pytest

from mlops_template.errors import PipelineError
from mlops_template.operate.serve import listening


def test_accepted_connections_send_small_writes_at_once():
    """TCP_NODELAY on the listener reaches every connection a worker accepts, so an
    answer's body does not wait for the client's delayed ACK."""
    with listening("127.0.0.1", 0) as server:
        with socket.create_connection(server.getsockname()):
            accepted, _ = server.accept()
            with accepted:
                assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
        assert server.get_inheritable()  # handed to uvicorn by its descriptor


def test_a_port_in_use_is_a_one_line_error():
    with listening("127.0.0.1", 0) as taken:
        port = taken.getsockname()[1]
        with pytest.raises(PipelineError, match=f"cannot listen on 127.0.0.1:{port}"):
            listening("127.0.0.1", port)
