#!/usr/bin/env python3
"""Lua 5.1 vs LuaJIT (docs/lua_choice.md): redis-benchmark of two EVALSHA workloads against
redis-server and three Omnibus builds (--shards 1), with CPU time per request from
/proc/PID/stat (utime + stime of every thread).

Usage: lua_choice.py OMNIBUS_LUA51 OMNIBUS_LUAJIT OMNIBUS_LUAJIT_WITH_JIT [ROUNDS]
(three omnibus-server binaries; ports 7338-7341 must be free). Prints each run, then a
Markdown table of medians.
"""
import os, subprocess, sys, time, statistics, socket

OMNI_51 = sys.argv[1]
OMNI_JIT = sys.argv[2]
OMNI_JITC = sys.argv[3]
ROUNDS = int(sys.argv[4]) if len(sys.argv) > 4 else 3
TICK_US = 1e6 / os.sysconf('SC_CLK_TCK')

RATE_LIMITER = ("local c = redis.call('INCR', KEYS[1]) "
                "redis.call('PEXPIRE', KEYS[1], ARGV[2]) "
                "if c > tonumber(ARGV[1]) then return 0 end return 1")
CPU_HEAVY = ("local x = 0 for i = 1, 1000 do x = (x * 31 + i * 7 - 3) % 1000003 end "
             "return string.format('%d:%s:%.3f', x, ARGV[1], x / 7)")

def wait_port(port):
  for _ in range(200):
    try:
      socket.create_connection(('127.0.0.1', port), 0.1).close(); return
    except OSError:
      time.sleep(0.05)
  raise SystemExit('port %d never opened' % port)

def cpu_ticks(pid):
  with open('/proc/%d/stat' % pid) as f:
    fields = f.read().rsplit(')', 1)[1].split()
  return int(fields[11]) + int(fields[12])  # utime + stime (fields 14, 15)

def cli(port, *args):
  return subprocess.check_output(['redis-cli', '-p', str(port)] + list(args)).decode().strip()

servers = [
  ('redis-server 7.0.15', 7338, ['redis-server', '--port', '7338', '--save', '', '--appendonly', 'no']),
  ('Omnibus Lua 5.1', 7339, [OMNI_51, '--port', '7339', '--shards', '1']),
  ('Omnibus LuaJIT interpreter', 7340, [OMNI_JIT, '--port', '7340', '--shards', '1']),
  ('Omnibus LuaJIT + JIT', 7341, [OMNI_JITC, '--port', '7341', '--shards', '1']),
]
procs = []
try:
  for name, port, argv in servers:
    p = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    procs.append(p)
    wait_port(port)
  shas = {}
  for name, port, _ in servers:
    shas[port] = (cli(port, 'SCRIPT', 'LOAD', RATE_LIMITER), cli(port, 'SCRIPT', 'LOAD', CPU_HEAVY))
  workloads = [
    # name, script index, -P, -n, args after the sha
    ('rate limiter', 0, 1, 100000, ['1', 'rl:__rand_int__', '100', '60000']),
    ('rate limiter', 0, 16, 300000, ['1', 'rl:__rand_int__', '100', '60000']),
    ('cpu-heavy', 1, 1, 20000, ['0', 'x']),
    ('cpu-heavy', 1, 16, 40000, ['0', 'x']),
  ]
  results = {}
  for rnd in range(ROUNDS):
    for wname, idx, pipe, n, rest in workloads:
      for (name, port, _), proc in zip(servers, procs):
        before = cpu_ticks(proc.pid)
        out = subprocess.check_output(
            ['redis-benchmark', '-p', str(port), '-c', '50', '-n', str(n), '-P', str(pipe),
             '-r', '100000', '--csv', 'evalsha', shas[port][idx]] + rest).decode()
        after = cpu_ticks(proc.pid)
        rps = float(out.strip().splitlines()[-1].split(',')[1].strip('"'))
        cpu_us = (after - before) * TICK_US / n
        results.setdefault((wname, pipe, name), []).append((rps, cpu_us))
        print('round %d %-12s -P%-2d %-27s %10.0f rps %7.2f us CPU/req' %
              (rnd, wname, pipe, name, rps, cpu_us), flush=True)
  print()
  print('| workload | -P | server | rps (median of %d) | CPU µs/request | rps vs redis |' % ROUNDS)
  print('|---|---:|---|---:|---:|---:|')
  for wname, idx, pipe, n, rest in workloads:
    base = statistics.median(r for r, _ in results[(wname, pipe, servers[0][0])])
    for name, port, _ in servers:
      rs = results[(wname, pipe, name)]
      rps = statistics.median(r for r, _ in rs)
      cpu = statistics.median(c for _, c in rs)
      print('| %s | %d | %s | %.0f | %.2f | %.2f |' % (wname, pipe, name, rps, cpu, rps / base))
finally:
  for p in procs:
    p.terminate()
  for p in procs:
    p.wait()
