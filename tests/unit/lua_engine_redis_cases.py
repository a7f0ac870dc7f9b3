#!/usr/bin/env python3
"""Regenerates lua_engine_redis_cases.inc from lua_engine_redis_cases.txt by running every
body through a redis-server 7.0 (EVAL with no keys, in RESP2 and RESP3) and recording the raw
reply. Usage: lua_engine_redis_cases.py [port] (default 6379). Sends SCRIPT FLUSH first."""
import os, socket, sys

HERE = os.path.dirname(os.path.abspath(__file__))
PORT = int(sys.argv[1]) if len(sys.argv) > 1 else 6379


def enc(args):
    out = b"*%d\r\n" % len(args)
    for a in args:
        a = a.encode() if isinstance(a, str) else a
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    return out

def redis(script, resp3):
    s = socket.create_connection(("127.0.0.1", PORT))
    if resp3:
        s.sendall(enc(["HELLO", "3"]))
        buf = b""
        while b"modules" not in buf or not buf.endswith(b"*0\r\n"):
            buf += s.recv(65536)
    s.sendall(enc(["EVAL", script, "0"]) + enc(["PING", "__END__"]))
    buf = b""
    while not (buf.endswith(b"$7\r\n__END__\r\n") or buf.endswith(b"+__END__\r\n")):
        d = s.recv(65536)
        if not d: break
        buf += d
    s.close()
    for t in (b"$7\r\n__END__\r\n", b"+__END__\r\n"):
        if buf.endswith(t): return buf[:-len(t)]
    raise Exception("bad")
def lit(b):
    out = '"'
    for c in b:
        ch = chr(c)
        if ch == '\\': out += '\\\\'
        elif ch == '"': out += '\\"'
        elif 32 <= c < 127 and ch != '?': out += ch
        else: out += '\\%03o' % c
    return out + '"'
s = socket.create_connection(("127.0.0.1", PORT))
s.sendall(enc(["SCRIPT", "FLUSH"]))
s.recv(100)
s.close()
rows = []
for f in (os.path.join(HERE, "lua_engine_redis_cases.txt"),):
    for l in open(f):
        l = l.rstrip("\n")
        if not l.strip() or l.startswith("#"): continue
        sc = l.replace("\\n", "\n")
        for resp in (2, 3):
            rows.append((resp, sc.encode(), redis(sc, resp == 3)))
with open(os.path.join(HERE, "lua_engine_redis_cases.inc"), "w") as o:
    o.write("// Generated from redis-server 7.0.15 (after SCRIPT FLUSH): {client protocol, EVAL body,\n")
    o.write("// raw reply}, for lua_engine_test's RedisCases, in order (cjson settings persist from\n")
    o.write("// script to script). No keys or arguments; the only commands called are ECHO and PING.\n")
    o.write("// Regenerate against redis-server, never by hand.\n")
    for resp, sc, r in rows:
        o.write("{%d, std::string_view(%s, %d),\n std::string_view(%s, %d)},\n" % (resp, lit(sc), len(sc), lit(r), len(r)))
print(len(rows))
