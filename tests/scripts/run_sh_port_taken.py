#!/usr/bin/python3
"""scripts/run.sh on a port someone holds (issue 13): it must say so and how to pick another
port, before building anything, instead of leaving the user with a bare bind error."""
import socket
import subprocess
import sys

ROOT = sys.argv[1]


def main():
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen(1)
    port = holder.getsockname()[1]
    try:
        proc = subprocess.run(["bash", ROOT + "/scripts/run.sh", "--port", str(port)],
                              capture_output=True, text=True, timeout=60)
    except subprocess.TimeoutExpired:
        raise AssertionError("run.sh did not stop at the taken port (it went on to build?)")
    finally:
        holder.close()
    if proc.returncode != 1:
        raise AssertionError("exit status %d, stderr:\n%s" % (proc.returncode, proc.stderr))
    for want in ("port %d is already in use" % port, "scripts/run.sh --port 7000"):
        if want not in proc.stderr:
            raise AssertionError("stderr lacks %r:\n%s" % (want, proc.stderr))
    print("run.sh port taken: 1 passed, 0 failed")


if __name__ == "__main__":
    main()
