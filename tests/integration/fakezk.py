"""A fake ZooKeeper server speaking just enough of the wire protocol for canal-es's client
(libzookeeper-mt): the connect handshake, getData / exists (the watch flag is read and
ignored), ping, setWatches and close. Every getData is answered with `data` framed as the
protocol says, except in the hostile modes, which send a GetDataResponse whose data length
is a lie: "negative" (-5), "huge" (0x7ffffff0, more than the frame holds).

A real ZooKeeper cannot be made to send such replies; this peer stands in for a broken or
malicious ensemble member. Runs in a thread of the test (start/stop), or alone:
`python3 fakezk.py PORT MODE` (tests/unit/test_zk.c does so)."""
import socket
import struct
import sys
import threading

OP_EXISTS, OP_GETDATA, OP_PING, OP_SETWATCHES, OP_CLOSE = 3, 4, 11, 101, -11
ZNONODE = -101
MODES = ("ok", "negative", "huge")


def stat(data_len):
    # czxid mzxid ctime mtime version cversion aversion ephemeralOwner dataLength numChildren pzxid
    return struct.pack(">qqqqiiiqiiq", 1, 1, 0, 0, 0, 0, 0, 0, data_len, 0, 1)


class FakeZk:
    def __init__(self, mode="ok", data=b""):
        assert mode in MODES, mode
        self.mode, self.data = mode, data
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.getdata_served = 0  # replies sent to getData (hostile or not)
        self.lock = threading.Lock()
        self.conns = []
        self.stopping = False
        self.thread = None

    def start(self):
        self.thread = threading.Thread(target=self.accept_loop, daemon=True)
        self.thread.start()
        return self

    def stop(self):
        self.stopping = True
        try:
            self.sock.close()
        except OSError:
            pass
        with self.lock:
            for c in self.conns:
                try:
                    c.shutdown(socket.SHUT_RDWR)
                    c.close()
                except OSError:
                    pass

    def accept_loop(self):
        while not self.stopping:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            with self.lock:
                self.conns.append(c)
            threading.Thread(target=self.serve, args=(c,), daemon=True).start()

    @staticmethod
    def recv_exact(c, n):
        buf = b""
        while len(buf) < n:
            part = c.recv(n - len(buf))
            if not part:
                raise EOFError
            buf += part
        return buf

    def recv_frame(self, c):
        (n,) = struct.unpack(">i", self.recv_exact(c, 4))
        return self.recv_exact(c, n)

    @staticmethod
    def send_frame(c, body):
        c.sendall(struct.pack(">i", len(body)) + body)

    def reply(self, c, xid, err, body=b""):
        self.send_frame(c, struct.pack(">iqi", xid, 1, err) + body)

    def serve(self, c):
        try:
            self.recv_frame(c)  # ConnectRequest: protocol, lastZxid, timeout, session, passwd, readOnly
            self.send_frame(c, struct.pack(">iiqi", 0, 10000, 0x1234, 16) + b"\0" * 16 + b"\0")
            while True:
                req = self.recv_frame(c)
                xid, op = struct.unpack(">ii", req[:8])
                if op == OP_PING:
                    self.reply(c, xid, 0)
                elif op == OP_GETDATA:
                    self.getdata(c, xid)
                elif op == OP_EXISTS:
                    self.reply(c, xid, 0, stat(len(self.data)))
                elif op == OP_SETWATCHES:
                    self.reply(c, xid, 0)
                elif op == OP_CLOSE:
                    self.reply(c, xid, 0)
                    return
                else:
                    self.reply(c, xid, -6)  # ZUNIMPLEMENTED
        except (EOFError, OSError, struct.error):
            pass
        finally:
            try:
                c.close()
            except OSError:
                pass

    def getdata(self, c, xid):
        with self.lock:
            self.getdata_served += 1
        if self.mode == "ok":
            self.reply(c, xid, 0, struct.pack(">i", len(self.data)) + self.data + stat(len(self.data)))
        elif self.mode == "negative":
            self.reply(c, xid, 0, struct.pack(">i", -5) + stat(0))
        else:  # "huge": a length beyond the frame
            self.reply(c, xid, 0, struct.pack(">i", 0x7FFFFFF0) + self.data + stat(len(self.data)))


if __name__ == "__main__":
    # python3 fakezk.py PORT MODE (PORT 0: any free port); prints "... on 127.0.0.1:PORT" first
    port_arg, mode_arg = int(sys.argv[1]), sys.argv[2]
    z = FakeZk(mode_arg, b'{"active":true,"address":"127.0.0.1:11111"}')
    if port_arg:
        z.sock.close()
        z.sock = socket.socket()
        z.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        z.sock.bind(("127.0.0.1", port_arg))
        z.sock.listen(16)
        z.port = port_arg
    print(f"fake zookeeper mode {mode_arg} on 127.0.0.1:{z.port}", flush=True)
    z.accept_loop()
