#!/usr/bin/env python3
"""Random EVAL scripts for the differential harness (scripting against redis-server itself,
which command_fuzz cannot do: it compares Omnibus with 1 and 3 shards).

  python3 tests/differential/scripting_gen.py SEED COUNT > /tmp/gen.txt
  python3 tests/differential/run_differential.py --omnibus build/omnibus-server --script /tmp/gen.txt

Each script: maybe redis.setresp(3), up to three deterministic commands through redis.call,
redis.pcall or pcall(redis.call, ...) on keys and values from small alphabets (with Lua numbers,
booleans, tables and nil as arguments now and then), then a return of a reply, of the results
(holes included) or of a literal that takes a branch of the Lua -> RESP conversion. HELLO 2/3
in between. Only commands whose replies do not depend on hash order or time.
"""
import random, sys
r = random.Random(int(sys.argv[1]))
N = int(sys.argv[2])
keys = ["k", "k1", "k2", "{t}a", "x", "", "k\\0z", "a:b"]
vals = ["v", "", "0", "1", "-1", "10", "3.5", "abc", "9223372036854775807", "-9223372036854775808", "1e5", "inf", " 1", "007", "\\255\\0"]
nums = ["0", "1", "-1", "2", "10", "-100", "9223372036854775808", "1.5", "abc", "", "+1", "-0"]
floats = ["0", "1.5", "-1.5", "1e3", "inf", "-inf", "nan", "abc", "0.1", "-0"]
def k(): return "'" + r.choice(keys) + "'"
def v(): return "'" + r.choice(vals) + "'"
def n(): return "'" + r.choice(nums) + "'"
def f(): return "'" + r.choice(floats) + "'"
def luanum(): return r.choice(["1", "-1", "0", "3.5", "0.1", "1e20", "2^53", "-0.0", "1/3", "2^63", "-2^63", "1e308*10"])
cmds = [
  lambda: ["'get'", k()], lambda: ["'set'", k(), v()], lambda: ["'incr'", k()], lambda: ["'incrby'", k(), n()],
  lambda: ["'incrbyfloat'", k(), f()], lambda: ["'append'", k(), v()], lambda: ["'del'", k(), k()],
  lambda: ["'exists'", k(), k()], lambda: ["'lpush'", k(), v(), v()], lambda: ["'rpop'", k()],
  lambda: ["'lrange'", k(), n(), n()], lambda: ["'hset'", k(), k(), v()], lambda: ["'hget'", k(), k()],
  lambda: ["'hgetall'", k()], lambda: ["'hincrbyfloat'", k(), k(), f()], lambda: ["'zadd'", k(), f(), v()],
  lambda: ["'zscore'", k(), v()], lambda: ["'zrange'", k(), n(), n(), "'withscores'"], lambda: ["'zincrby'", k(), f(), v()],
  lambda: ["'type'", k()], lambda: ["'strlen'", k()], lambda: ["'getrange'", k(), n(), n()], lambda: ["'mget'", k(), k(), k()],
  lambda: ["'scard'", k()], lambda: ["'sismember'", k(), v()], lambda: ["'lpos'", k(), v()], lambda: ["'ttl'", k()],
  lambda: ["'expire'", k(), "'100000'"], lambda: ["'persist'", k()], lambda: ["'hlen'", k()], lambda: ["'zrank'", k(), v()],
  lambda: ["'getdel'", k()], lambda: ["'setrange'", k(), "'2'", v()], lambda: ["'lindex'", k(), n()], lambda: ["'echo'", v()],
  lambda: ["'ping'"], lambda: ["'zmscore'", k(), v(), v()], lambda: ["'smismember'", k(), v()], lambda: ["'linsert'", k(), "'before'", v(), v()],
]
def call(fn):
  a = r.choice(cmds)()
  for i in range(1, len(a)):
    x = r.random()
    if x < 0.08: a[i] = luanum()
    elif x < 0.1: a[i] = r.choice(["KEYS[1]", "ARGV[1]", "true", "{}", "nil"])
  return "%s(%s)" % (fn, ", ".join(a))
lits = ["1", "-3.99", "0.5", "'s'", "true", "false", "nil", "{}", "{1, nil, 3}", "{1, {2, {'x'}}, false, true}",
        "{err = 'E x'}", "{ok = 'fine'}", "{double = 2.5}", "{double = 0/0}", "{double = -1/0}", "{map = {a = 1}}", "{set = {m = true}}",
        "{big_number = '123'}", "{verbatim_string = {format = 'txt', string = 'v'}}", "redis.error_reply('X y')",
        "redis.status_reply('S')", "cjson.encode({1, 'a', {b = false}})", "cjson.decode('[1, {\"a\": null}, 2.5]')",
        "cmsgpack.unpack(cmsgpack.pack({1, 'x', -1.5, 2^40}))", "struct.unpack('>i2', struct.pack('>i2', -5))",
        "tostring(0.1 + 0.2)", "2^31", "-(2^63)", "1e308 * 10", "{1e20}", "#ARGV", "{tostring(1/3), 1/3}",
        "string.format('%.3f|%5d|%s', 1/3, 42, 'x')", "{math.huge, -math.huge}", "{-0.0, 0/0}"]
for _ in range(N):
  body = []
  if r.random() < 0.3: body.append("redis.setresp(3)")
  st = r.randint(0, 3)
  for i in range(1, st + 1):
    kind = r.randint(0, 2)
    if kind == 0: body.append("local r%d = %s" % (i, call("redis.call")))
    elif kind == 1: body.append("local r%d = %s" % (i, call("redis.pcall")))
    else:
      c = call("redis.call"); body.append("local ok%d, r%d = pcall(redis.call, %s" % (i, i, c[c.index('(')+1:]))
  x = r.randint(0, 9)
  if x <= 2: body.append("return " + call(r.choice(["redis.call", "redis.pcall"])))
  elif x <= 4 and st: body.append("return {%s}" % ", ".join("r%d" % i for i in range(1, st + 1)))
  elif x == 5 and st: body.append("return r%d" % r.randint(1, st))
  else: body.append("return " + r.choice(lits))
  script = "\\n".join(body).replace('"', '\\"')
  nk = r.randint(0, 2)
  ks = " ".join('"%s"' % r.choice(keys).replace("\\0", "\\x00") for _ in range(nk))
  av = " ".join('"%s"' % r.choice(vals).replace("\\255\\0", "\\xff\\x00") for _ in range(r.randint(0, 2)))
  if r.random() < 0.3: print("!mask-field id\nHELLO %d" % r.choice([2, 3]))
  print('EVAL "%s" %d %s %s' % (script, nk, ks, av))
