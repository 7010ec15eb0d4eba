#!/usr/bin/python3
"""bench/depth1_client.py PORT PATH CONNS CMD_FIFO ACK_FIFO: the depth-1 client of
bench/callgrind_conns.sh and bench/syscall_footprint.sh.

Opens CONNS connections and holds them; for each number N read from CMD_FIFO it serves N
requests at depth 1 (each turn sends one request on every connection, then reads the CONNS
answers, so the server's events go round the connections) and writes "done" to ACK_FIFO
("failed" if anything went wrong); "quit" ends it.
"""
import socket, sys
port, path, conns, cmd_path, ack_path = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]
req = f"GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n".encode()
# The pipes first: the shell waits on them, and hears "failed" if anything goes wrong.
cmds, acks = open(cmd_path), open(ack_path, "w")
socks, bufs = [], [b""] * conns

def answer(i):
    """Reads connection i's one answer (its head's Content-Length says where it ends)."""
    buf = bufs[i]
    while True:
        head_end = buf.find(b"\r\n\r\n")
        if head_end >= 0:
            head = buf[:head_end].decode()
            cl = int([l.split(":")[1] for l in head.split("\r\n")
                      if l.lower().startswith("content-length")][0])
            if len(buf) >= head_end + 4 + cl:
                bufs[i] = buf[head_end + 4 + cl:]
                return
        chunk = socks[i].recv(65536)
        if not chunk:
            sys.exit("connection closed")
        buf += chunk

def run(n):
    done = 0
    while done < n:
        k = min(conns, n - done)
        for i in range(k):
            socks[i].sendall(req)
        for i in range(k):
            answer(i)
        done += k

try:
    socks = [socket.create_connection(("127.0.0.1", port)) for _ in range(conns)]
    for line in cmds:
        if line.strip() == "quit":
            break
        run(int(line))
        acks.write("done\n")
        acks.flush()
except Exception as e:
    print(e, file=sys.stderr)
    acks.write("failed\n")
    acks.flush()
