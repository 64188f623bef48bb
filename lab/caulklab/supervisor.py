"""The lab supervisor: parent (and child subreaper) of every long-lived lab process.

The machine's PID 1 may not reap orphans, so nodes (their unshare/sshd trees) and cluster agents
are started by this one daemon, which reaps them. The CLI talks to it over a unix socket with
one JSON request per connection."""
import ctypes
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time

from .common import cluster_dir, children, load_state, state_dir, write_file
from .node import boot_argv, node_paths

PR_SET_CHILD_SUBREAPER = 36


def sock_path():
    return os.path.join(state_dir(), "supervisor.sock")


def request(req, timeout=60):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(sock_path())
    s.sendall(json.dumps(req).encode() + b"\n")
    data = b""
    while not data.endswith(b"\n"):
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    s.close()
    return json.loads(data or b"{}")


class Supervisor:
    def __init__(self):
        self.lock = threading.Lock()
        self.nodes = {}    # name -> pid (unshare)
        self.agents = {}   # cluster -> pid
        self.exited = {}
        self.stopping = False

    def spawn(self, argv, log):
        with open(log, "ab") as f:
            p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=f, stderr=subprocess.STDOUT,
                                 start_new_session=True, close_fds=True)
        p.returncode = 0  # never waited through Popen: the reaper thread owns all exit statuses
        return p.pid

    def reaper(self):
        while True:
            try:
                pid, status = os.waitpid(-1, 0)
            except ChildProcessError:
                time.sleep(0.2)
                continue
            except InterruptedError:
                continue
            with self.lock:
                self.exited[pid] = status

    def start_node(self, name):
        st = load_state()
        node = None
        for c in st["clusters"]:
            for n in c["nodes"]:
                if n["name"] == name:
                    node = n
        if node is None:
            return {"error": "unknown node %s" % name}
        p = node_paths(name)
        pid = self.spawn(boot_argv(node), p["log"])
        with self.lock:
            self.nodes[name] = pid
        write_file(p["pid"], "%d\n" % pid)
        return {"pid": pid}

    def kill_tree(self, pid, sig=signal.SIGKILL):
        for k in children(pid):
            try:
                os.kill(k, sig)
            except ProcessLookupError:
                pass
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass

    def wait_gone(self, pids, timeout=10):
        end = time.time() + timeout
        while time.time() < end:
            with self.lock:
                if all(p in self.exited for p in pids):
                    return True
            time.sleep(0.02)
        return False

    def stop_node(self, name):
        with self.lock:
            pid = self.nodes.pop(name, None)
        if pid is None:
            return {"stopped": False}
        # SIGKILL to the node's PID 1 takes its whole pid namespace (sshd, sessions) with it; unshare
        # (--kill-child) exits only once that namespace is torn down, so wait for unshare itself
        kids = children(pid)
        for k in kids:
            try:
                os.kill(k, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if not kids or not self.wait_gone([pid], timeout=10):
            self.kill_tree(pid)
            self.wait_gone([pid])
        return {"stopped": True}

    def start_agent(self, cluster):
        log = os.path.join(cluster_dir(cluster), "agent.log")
        argv = [sys.executable, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                             "caulk-lab"), "_agent", cluster]
        pid = self.spawn(argv, log)
        with self.lock:
            self.agents[cluster] = pid
        write_file(os.path.join(cluster_dir(cluster), "agent.pid"), "%d\n" % pid)
        return {"pid": pid}

    def shutdown(self):
        with self.lock:
            agents = list(self.agents.values())
            nodes = list(self.nodes.values())
            self.agents.clear()
            self.nodes.clear()
        for pid in agents:
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        for pid in nodes:
            self.kill_tree(pid)
        self.wait_gone(agents + nodes, timeout=5)
        for pid in agents:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.wait_gone(agents, timeout=5)
        # orphans reparented to us (e.g. an agent's helper) are reaped by the reaper thread
        time.sleep(0.1)
        return {"ok": True}

    def handle(self, conn):
        try:
            data = b""
            while not data.endswith(b"\n"):
                chunk = conn.recv(65536)
                if not chunk:
                    break
                data += chunk
            req = json.loads(data)
            op = req.get("op")
            if op == "ping":
                resp = {"ok": True, "pid": os.getpid()}
            elif op == "start_nodes":
                resp = {n: self.start_node(n) for n in req["names"]}
            elif op == "stop_node":
                resp = self.stop_node(req["name"])
            elif op == "start_agents":
                resp = {c: self.start_agent(c) for c in req["clusters"]}
            elif op == "status":
                with self.lock:
                    resp = {"nodes": {n: p not in self.exited for n, p in self.nodes.items()},
                            "agents": {c: p not in self.exited for c, p in self.agents.items()}}
            elif op == "shutdown":
                resp = self.shutdown()
                self.stopping = True
            else:
                resp = {"error": "unknown op %r" % op}
        except Exception as e:  # noqa: BLE001 - report any failure to the CLI
            resp = {"error": "%s: %s" % (type(e).__name__, e)}
        try:
            conn.sendall(json.dumps(resp).encode() + b"\n")
        finally:
            conn.close()
        if self.stopping:
            try:
                os.unlink(sock_path())
            except FileNotFoundError:
                pass
            os._exit(0)

    def serve(self):
        ctypes.CDLL(None).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
        signal.signal(signal.SIGTERM, lambda *a: (self.shutdown(), os._exit(0)))
        threading.Thread(target=self.reaper, daemon=True).start()
        path = sock_path()
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        srv.bind(path)
        os.chmod(path, 0o600)
        srv.listen(64)
        while True:
            conn, _ = srv.accept()
            threading.Thread(target=self.handle, args=(conn,), daemon=True).start()


def main():
    Supervisor().serve()
