#!/usr/bin/env python3
# Idle connections (issue 13): N connections each send one SET and one GET of 100 B, then stay
# idle; prints the server's RSS per connection (bytes) while served and after 4 s and 12 s.
# Usage: idle_memory.py PORT SERVER_PID N [ping]
# With `ping`, each connection sends two PINGs instead: the connections alone, no keys.
import socket, sys, time, resource
port=int(sys.argv[1]); pid=int(sys.argv[2]); n=int(sys.argv[3])
ping=len(sys.argv)>4 and sys.argv[4]=='ping'
resource.setrlimit(resource.RLIMIT_NOFILE,(20000,20000))
def rss():
    for l in open(f'/proc/{pid}/status'):
        if l.startswith('VmRSS'): return int(l.split()[1])
def cmd(*a):
    s=b'*%d\r\n'%len(a)
    for x in a:
        if isinstance(x,str): x=x.encode()
        s+=b'$%d\r\n%s\r\n'%(len(x),x)
    return s
time.sleep(0.5)
base=rss()
socks=[]
v=b'v'*100
for i in range(n):
    s=socket.create_connection(('127.0.0.1',port))
    s.sendall(cmd('PING')+cmd('PING') if ping else cmd('SET','k%d'%i,v)+cmd('GET','k%d'%i))
    socks.append(s)
for i,s in enumerate(socks):
    got=b''
    while len(got)<(14 if ping else 5+7+100):
        got+=s.recv(4096)
after=rss()
print('base KB',base,'after KB',after,'per conn B',(after-base)*1024/n)
time.sleep(4)
print("4s",(rss()-base)*1024/n)
time.sleep(8)
idle=rss()
print("after idle 12s KB",idle,"per conn B",(idle-base)*1024/n)
