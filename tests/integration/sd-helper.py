#!/usr/bin/env python3
# sd-helper.py - plays systemd's part, and a client, for daemon-systemd.sh
# and daemon-upgrade.sh:
#
#   sd-helper.py notify SOCKET OUT SECONDS
#       receive NOTIFY_SOCKET datagrams on the Unix socket SOCKET (a path,
#       or @name for an abstract one), each
#       appended to OUT as its lines followed by "--", for SECONDS at most
#   sd-helper.py activate PORTFILE NAMES SPEC... -- COMMAND...
#       listen on each SPEC ("tcp": loopback, a free port; "unix:PATH";
#       "udp", a datagram socket, which is not to be served),
#       write the TCP ports to PORTFILE (a line each) and the pid of a
#       process keeping a copy of the sockets (as systemd does) to
#       PORTFILE.keeper, wait (10 s at most) for PORTFILE.go to exist,
#       then exec COMMAND in place (so LISTEN_PID is its pid) with the
#       sockets at descriptors 3, 4, ..., LISTEN_FDNAMES=NAMES
#   sd-helper.py load PORT SECONDS OUT STOPFILE
#       four threads sending one-request connections to 127.0.0.1:PORT
#       until STOPFILE exists (or SECONDS pass); writes "OK FAILED" to OUT
#       and each failure's reason to OUT.errors
import fcntl
import os
import socket
import sys
import threading
import time


def notify(path, out, seconds):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind("\0" + path[1:] if path.startswith("@") else path)
    s.settimeout(0.2)
    end = time.monotonic() + float(seconds)
    while time.monotonic() < end:
        try:
            msg = s.recv(4096)
        except socket.timeout:
            continue
        with open(out, "a") as f:
            f.write(msg.decode(errors="replace").rstrip("\n") + "\n--\n")


def listening(spec):
    if spec == "udp":  # not a stream socket: to be refused
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("127.0.0.1", 0))
        return s
    if spec.startswith("unix:"):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.bind(spec[5:])
    else:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", 0))
    s.listen(128)
    return s


def activate(portfile, specs, names, cmd):
    socks = [listening(spec) for spec in specs]
    with open(portfile + ".new", "w") as f:
        for s in socks:
            if s.family == socket.AF_INET and s.type == socket.SOCK_STREAM:
                f.write("%d\n" % s.getsockname()[1])
    os.rename(portfile + ".new", portfile)
    # As systemd does, keep a copy of the sockets in another process (for
    # 30 s at most): the daemon must leave them listening when it stops.
    keeper = os.fork()
    if keeper == 0:
        time.sleep(30)
        os._exit(0)
    with open(portfile + ".keeper", "w") as f:
        f.write("%d\n" % keeper)
    end = time.monotonic() + 10
    while not os.path.exists(portfile + ".go") and time.monotonic() < end:
        time.sleep(0.05)
    # Above the targets first, so no dup2 overwrites another's source (and
    # dup2 to a different number is what clears close-on-exec).
    high = [fcntl.fcntl(s.fileno(), fcntl.F_DUPFD, 50) for s in socks]
    for i, h in enumerate(high):
        os.dup2(h, 3 + i)
    env = dict(os.environ)
    env["LISTEN_PID"] = str(os.getpid())
    env["LISTEN_FDS"] = str(len(socks))
    env["LISTEN_FDNAMES"] = names
    os.execve(cmd[0], cmd, env)


def one_request(port):
    c = socket.create_connection(("127.0.0.1", port), timeout=5)
    try:
        c.sendall(b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        data = b""
        while True:
            b = c.recv(65536)
            if not b:
                break
            data += b
    finally:
        c.close()
    if not data.startswith(b"HTTP/1.1 200 "):
        raise RuntimeError("answer: %r" % data[:60])


def load(port, seconds, out, stopfile):
    port = int(port)
    end = time.monotonic() + float(seconds)
    counts = {"ok": 0, "failed": 0}
    errors = []
    lock = threading.Lock()

    def worker():
        while time.monotonic() < end and not os.path.exists(stopfile):
            try:
                one_request(port)
                key = "ok"
            except Exception as e:  # refused, reset, timeout, bad answer
                key = "failed"
                with lock:
                    errors.append(repr(e))
            with lock:
                counts[key] += 1

    ts = [threading.Thread(target=worker) for _ in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    with open(out + ".errors", "w") as f:
        f.write("\n".join(errors[:20]) + "\n")
    with open(out + ".new", "w") as f:
        f.write("%d %d\n" % (counts["ok"], counts["failed"]))
    os.rename(out + ".new", out)


def main(argv):
    if len(argv) >= 4 and argv[0] == "notify":
        notify(argv[1], argv[2], argv[3])
    elif len(argv) >= 5 and argv[0] == "activate" and "--" in argv:
        dash = argv.index("--")
        activate(argv[1], argv[3:dash], argv[2], argv[dash + 1:])
    elif len(argv) >= 5 and argv[0] == "load":
        load(argv[1], argv[2], argv[3], argv[4])
    else:
        sys.stderr.write("usage: see the comment at the top\n")
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
