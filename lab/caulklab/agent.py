"""Per-cluster agent: kube API stand-in, Felix stand-in, NetworkManager stand-in, pod listeners, prober."""
import os
import signal
import socket
import sys
import threading
import time
import traceback

from . import datapath
from .common import (NIC, POD_PORT, PROBE_PAYLOAD, VXLAN_DEV, cluster_dir, find_cluster, ip_batch,
                     link_info, load_state, netns, read_file, state_dir, write_file)
from .kubeapi import KubeAPI, make_server
from .kubeobjects import ClusterObjects
from .node import node_paths

PAYLOAD = (b"caulk-lab pod listener\n" * 400)[:PROBE_PAYLOAD]


def log(msg):
    sys.stdout.write("%s %s\n" % (time.strftime("%H:%M:%S"), msg))
    sys.stdout.flush()


class Agent:
    def __init__(self, cname):
        self.st = load_state()
        self.c = find_cluster(self.st, cname)
        self.felix_interval = float(self.st.get("felix_interval", 3))
        self.probe_interval = float(self.st.get("probe_interval", 2))
        self.restart_period = float(self.st.get("restart_period", 10))
        self.probe_ring = int(self.st.get("probe_ring", 3))
        self.o = ClusterObjects(self.c)
        self.health = {n["name"]: True for n in self.c["nodes"]}
        self.matrix = {}
        self.stop = threading.Event()
        d = cluster_dir(cname)
        self.audit_path = os.path.join(d, "audit.jsonl")
        self.felix_log = os.path.join(d, "felix.log")

    # ------------------------------------------------------------------ pod listeners (CoreDNS-like)
    def start_listeners(self):
        for n in self.c["nodes"]:
            with netns(n["ns"]):
                s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((n["pod_ip"], POD_PORT))
            s.listen(128)
            threading.Thread(target=self.serve_listener, args=(s,), daemon=True).start()

    def serve_listener(self, s):
        while not self.stop.is_set():
            try:
                conn, _ = s.accept()
            except OSError:
                continue
            threading.Thread(target=self.answer, args=(conn,), daemon=True).start()

    @staticmethod
    def answer(conn):
        try:
            conn.settimeout(3)
            conn.sendall(PAYLOAD)
            conn.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        finally:
            conn.close()

    # ------------------------------------------------------------------ Felix + NetworkManager stand-ins
    def felix_start(self, n):
        """What a (re)started calico-node does on its node: create a missing device; on an existing one,
        apply MTU and turn offload off when ChecksumOffloadBroken=true. It does NOT repair a DOWN device or
        a wrong VTEP/local (pre-3.30, Calico issue 4468) nor restore missing routes on an existing device."""
        if self.c["mode"] != "vxlan":
            return
        exists, _up, csum = link_info(n["ns"], VXLAN_DEV)
        if not exists:
            self.felix_create(n)
            return
        mtu = self.o.vxlan_mtu()
        ip_batch(n["ns"], ["link set %s mtu %d" % (VXLAN_DEV, mtu)], check=False)
        write_file(os.path.join(node_paths(n["name"])["var"], "calico", "mtu"), "%d\n" % mtu)
        if csum and self.o.checksum_offload_broken():
            datapath.set_offload(n, False)

    def felix_create(self, n):
        offload = not self.o.checksum_offload_broken()
        datapath.felix_create(self.c, n, offload, mtu=self.o.vxlan_mtu())
        with open(self.felix_log, "a") as f:
            f.write("%s felix[%s]: created %s (offload %s)\n" % (time.strftime("%H:%M:%S"), n["name"], VXLAN_DEV,
                                                                "on" if offload else "off"))

    def felix_loop(self):
        while not self.stop.wait(self.felix_interval):
            try:
                if self.c["mode"] == "vxlan":
                    for n in self.c["nodes"]:
                        exists, up, _ = link_info(n["ns"], VXLAN_DEV)
                        if not exists:
                            self.felix_create(n)
                            exists, up = True, True
                        etc = node_paths(n["name"])["etc"]
                        nm = os.path.exists(os.path.join(etc, "caulk-lab", "NetworkManager.active"))
                        conf = os.path.isfile(os.path.join(etc, "NetworkManager", "conf.d", "calico.conf"))
                        if nm and not conf and up:
                            ip_batch(n["ns"], ["link set %s down" % VXLAN_DEV], check=False)
                            with open(self.felix_log, "a") as f:
                                f.write("%s NetworkManager[%s]: took %s down (device managed)\n"
                                        % (time.strftime("%H:%M:%S"), n["name"], VXLAN_DEV))
                    datapath.sync_offload(self.c["nodes"])
            except Exception:  # noqa: BLE001 - keep looping, log it
                log("felix loop: " + traceback.format_exc())

    # ------------------------------------------------------------------ prober + pod state
    def probe_loop(self):
        while not self.stop.is_set():
            t0 = time.time()
            try:
                m = datapath.probe_matrix(self.c, timeout=1.5, icmp=False, ring=self.probe_ring)
                h = datapath.node_health(self.c, m)
                self.update_pods(m, h)
            except Exception:  # noqa: BLE001
                log("probe loop: " + traceback.format_exc())
            self.stop.wait(max(0.2, self.probe_interval - (time.time() - t0)))

    def update_pods(self, m, h):
        o = self.o
        now = time.time()
        with o.lock:
            self.matrix, self.health = m, h
            changed = False
            for name, rec in o.pods.items():
                if rec is None:
                    continue
                ready = h.get(name, False) and now - rec["started"] > 1.0
                if not ready and now - rec["last_restart"] > self.restart_period:
                    rec["restarts"] += 1        # liveness probe failing: container restarted
                    rec["last_restart"] = now
                    changed = True
                if ready != rec["ready"]:
                    rec["ready"] = ready
                    changed = True
            allok = all(h.values())
            kc = o.kc
            if not allok and o.broken_since is None:
                o.broken_since = now
                changed = True
            if allok and o.broken_since is not None:
                o.broken_since = None
                changed = True
            if kc["ready"] != allok:
                kc["ready"] = allok
                changed = True
            if not allok and now - kc["last_restart"] > self.restart_period * 1.5:
                kc["restarts"] += 1
                kc["last_restart"] = now
                changed = True
            if changed:
                o.bump()

    # ------------------------------------------------------------------ DaemonSet/Deployment controller
    def controller_loop(self):
        o = self.o
        nodes = {n["name"]: n for n in self.c["nodes"]}
        while not self.stop.wait(0.3):
            try:
                todo = []
                with o.lock:
                    pend = getattr(o, "pending_since", {})
                    for name, rec in list(o.pods.items()):
                        if rec is None and time.time() - pend.get(name, 0) > 0.8:
                            o.pods[name] = o.new_pod_record(nodes[name])
                            o.bump()
                            todo.append(nodes[name])
                    if getattr(o, "kc_restart_requested", False):
                        o.kc_restart_requested = False
                        from .kubeobjects import suffix
                        base = "-".join(o.kc["name"].split("-")[:-1])
                        o.kc = dict(o.kc, name="%s-%s" % (base, suffix()), started=time.time(), restarts=0,
                                    last_restart=time.time(), ready=False)
                        o.bump()
                    nxt = None
                    if o.rollout_queue and not todo:
                        name = o.rollout_queue[0]
                        rec = o.pods.get(name)
                        # maxUnavailable 1: wait for the previously restarted pod (or give up after 6 s)
                        busy = [r for r in o.pods.values() if r is not None and r["revision"] == o.ds_revision
                                and not r["ready"] and time.time() - r["started"] < 6]
                        if not busy:
                            o.rollout_queue.pop(0)
                            if rec is not None and rec["revision"] != o.ds_revision:
                                o.pods[name] = o.new_pod_record(nodes[name])
                                o.bump()
                                nxt = nodes[name]
                if nxt:
                    todo.append(nxt)
                for n in todo:
                    self.felix_start(n)
            except Exception:  # noqa: BLE001
                log("controller loop: " + traceback.format_exc())

    # ------------------------------------------------------------------ main
    def boot_id_of(self, node_name):
        return (read_file(node_paths(node_name)["boot_id"], "") or "").strip()

    def run(self):
        signal.signal(signal.SIGTERM, lambda *a: os._exit(0))
        self.start_listeners()
        cp = self.c["nodes"][0]
        api = KubeAPI(self.o, self.audit_path, self.boot_id_of)
        sd = state_dir()
        with netns(cp["ns"]):
            srv = make_server((cp["ip"], 6443), api, os.path.join(sd, "api-cert.pem"), os.path.join(sd, "api-key.pem"))
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        threading.Thread(target=self.felix_loop, daemon=True).start()
        threading.Thread(target=self.controller_loop, daemon=True).start()
        log("agent for %s: API on %s, %d nodes" % (self.c["name"], self.c["api"], len(self.c["nodes"])))
        self.probe_loop()


def main(cname):
    Agent(cname).run()
