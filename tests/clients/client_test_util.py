"""What the client-library tests in this directory share: a free port, waiting for a server
to listen, and a check that raises with a message."""
import socket
import time


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(port, proc, deadline_s=10.0):
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise RuntimeError("server exited early with %s" % proc.returncode)
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.02)  # polling for readiness with a deadline, not synchronization
    raise RuntimeError("server did not start listening")


def check(cond, what):
    if not cond:
        raise AssertionError(what)
