#!/usr/bin/env python3
# Bounded bursts (issue 13): one client pipelines 2,000 small GETs (grows its group cap), then
# 1,024 GETs of a 1 MB value, reading the replies; prints the server's RSS (MB) before, at the
# peak and after. Usage: burst_memory.py PORT SERVER_PID [KEYS]
import socket, sys, time, os
port=int(sys.argv[1]); pid=int(sys.argv[2]); nkeys=int(sys.argv[3]) if len(sys.argv)>3 else 1
def rss():
    for l in open(f'/proc/{pid}/status'):
        if l.startswith('VmRSS'): return int(l.split()[1])//1024
def cmd(*a):
    s=b'*%d\r\n'%len(a)
    for x in a:
        if isinstance(x,str): x=x.encode()
        s+=b'$%d\r\n%s\r\n'%(len(x),x)
    return s
s=socket.create_connection(('127.0.0.1',port))
def readn(n):
    buf=b''
    while len(buf)<n:
        d=s.recv(min(1<<20,n-len(buf)));
        if not d: raise Exception('eof')
        buf+=d
    return buf
val=b'x'*(1<<20)
for k in range(nkeys):
    s.sendall(cmd('SET','big%d'%k,val)); assert readn(5)==b'+OK\r\n'
s.sendall(cmd('SET','small','v')); readn(5)
print('start rss',rss())
s.sendall(cmd('GET','small')*2000); readn(7*2000)
print('after warm', rss())
s.sendall(b''.join(cmd('GET','big%d'%(i%nkeys)) for i in range(1024)))
peak=0; total=1024*(len(val)+12); got=0
while got<total:
    d=s.recv(65536); got+=len(d)
    if got % (64<<20) < 65536: peak=max(peak,rss()); time.sleep(0.01)
peak=max(peak,rss())
print('peak',peak)
time.sleep(1)
print('after 1s',rss())
time.sleep(3)
print('after 4s',rss())
