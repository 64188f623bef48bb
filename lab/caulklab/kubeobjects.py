"""In-memory Kubernetes/Calico objects of one lab cluster, as the kube API stand-in serves them."""
import copy
import json
import random
import string
import threading
import time

from .common import OS_VARIANTS, VXLAN_MTU, k8s_name

K8S_VERSION = "v1.29.6"


def now_iso(t=None):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t or time.time()))


def suffix(n=5):
    return "".join(random.choice("bcdfghjklmnpqrstvwxz2456789") for _ in range(n))


def merge_patch(target, patch):
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    if not isinstance(target, dict):
        target = {}
    for k, v in patch.items():
        if v is None:
            target.pop(k, None)
        else:
            target[k] = merge_patch(target.get(k), v)
    return target


def json_patch(target, ops):
    for op in ops:
        parts = [p.replace("~1", "/").replace("~0", "~") for p in op["path"].split("/")[1:]]
        cur = target
        for p in parts[:-1]:
            cur = cur[int(p)] if isinstance(cur, list) else cur.setdefault(p, {})
        last = parts[-1] if parts else None
        kind = op["op"]
        if kind in ("add", "replace"):
            if isinstance(cur, list):
                if last == "-":
                    cur.append(op["value"])
                elif kind == "add":
                    cur.insert(int(last), op["value"])
                else:
                    cur[int(last)] = op["value"]
            else:
                cur[last] = op["value"]
        elif kind == "remove":
            if isinstance(cur, list):
                del cur[int(last)]
            else:
                cur.pop(last, None)
        elif kind == "test":
            if (cur[int(last)] if isinstance(cur, list) else cur.get(last)) != op.get("value"):
                raise ValueError("test failed at %s" % op["path"])
    return target


class ClusterObjects:
    """All objects of one cluster. Thread-safe through self.lock; resourceVersion is a counter."""

    def __init__(self, cluster):
        self.cluster = cluster
        self.ns = cluster.get("namespace", "kube-system")
        self.lock = threading.RLock()
        self.rv = 1
        self.created = time.time()
        self.store = {}
        self.pods = {}          # node name -> pod record
        self.kc = None          # kube-controllers pod record
        self.broken_since = None
        self.ds_revision = 1
        self.rollout_queue = []
        self.ready_cache = {}
        self.variant = cluster.get("variant") or {}
        self.operator = "operator" in self.variant
        self.k8s = {n["name"]: k8s_name(n) for n in cluster["nodes"]}      # lab name -> Node name
        self.lab_name = {v: k for k, v in self.k8s.items()}                 # Node name -> lab name
        self._init_objects()

    # ------------------------------------------------------------------ helpers
    def bump(self):
        self.rv += 1
        return str(self.rv)

    def meta(self, name, ns=None, **extra):
        m = {"name": name, "uid": "%08x-0000-4000-8000-%012x" % (random.getrandbits(32), random.getrandbits(48)),
             "resourceVersion": str(self.rv), "creationTimestamp": now_iso(self.created)}
        if ns:
            m["namespace"] = ns
        m.update(extra)
        return m

    def put(self, res, ns, obj):
        obj["metadata"]["resourceVersion"] = self.bump()
        self.store[(res, ns, obj["metadata"]["name"])] = obj

    def felix_override(self):
        fc = self.store.get(("felixconfigurations", None, "default"), {})
        return fc.get("spec", {}).get("featureDetectOverride", "") or ""

    def checksum_offload_broken(self):
        return "ChecksumOffloadBroken=true" in self.felix_override().replace(" ", "")

    def veth_mtu(self):
        cm = self.store.get(("configmaps", self.ns, "calico-config"), {})
        try:
            return int(cm.get("data", {}).get("veth_mtu", "0"))
        except ValueError:
            return 0

    def installation_mtu(self):
        inst = self.store.get(("installations", None, "default"), {})
        try:
            return int(((inst.get("spec") or {}).get("calicoNetwork") or {}).get("mtu") or 0)
        except (TypeError, ValueError):
            return 0

    def vxlan_mtu(self):
        m = self.installation_mtu() if self.operator else self.veth_mtu()
        return m if m > 0 else VXLAN_MTU

    def start_rollout(self, reason=None):
        """What `rollout restart` (or the Tigera operator after an Installation change) does to calico-node:
        new template revision, pods replaced one at a time by the agent's controller loop."""
        k = ("daemonsets", self.ns, "calico-node")
        ds = copy.deepcopy(self.store[k])
        self.ds_revision += 1
        ds["metadata"]["generation"] = ds["metadata"].get("generation", 1) + 1
        ds["metadata"].setdefault("annotations", {})["deprecated.daemonset.template.generation"] = str(self.ds_revision)
        if reason:
            ds["spec"]["template"]["metadata"].setdefault("annotations", {})["hash.operator.tigera.io/caulk-lab"] = reason
        if self.operator:
            for ctr in ds["spec"]["template"]["spec"]["containers"]:
                ctr["env"] = [e for e in ctr.get("env", []) if e.get("name") != "FELIX_VXLANMTU"] + [self._mtu_env()]
        self.rollout_queue = [n["name"] for n in self.cluster["nodes"]]
        self.put("daemonsets", self.ns, ds)

    # ------------------------------------------------------------------ initial objects
    def _init_objects(self):
        c = self.cluster
        ver = c["calico_version"]
        vx = c["mode"] == "vxlan"
        for n in c["nodes"]:
            osv = OS_VARIANTS[n["os"]]
            kname = self.k8s[n["name"]]
            labels = {"kubernetes.io/hostname": kname, "kubernetes.io/os": "linux",
                      "kubernetes.io/arch": "amd64", "lab": "true"}
            if n["role"] == "control-plane":
                labels["node-role.kubernetes.io/control-plane"] = ""
            ann = {"projectcalico.org/IPv4Address": "%s/16" % n["ip"],
                   "node.alpha.kubernetes.io/ttl": "0"}
            if vx:
                ann["projectcalico.org/IPv4VXLANTunnelAddr"] = n["vtep"]
                if "no-vxlan-mac" not in self.variant:
                    ann["projectcalico.org/VXLANTunnelMACAddr"] = n["mac"]
            else:
                ann["projectcalico.org/IPv4IPIPTunnelAddr"] = n["vtep"]
            obj = {"apiVersion": "v1", "kind": "Node",
                   "metadata": self.meta(kname, labels=labels, annotations=ann),
                   "spec": {"podCIDR": n["block"]},
                   "status": {"addresses": [{"type": "InternalIP", "address": n["ip"]},
                                            {"type": "Hostname", "address": kname}],
                              "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady",
                                              "message": "kubelet is posting ready status",
                                              "lastHeartbeatTime": now_iso(), "lastTransitionTime": now_iso(self.created)}],
                              "nodeInfo": {"kernelVersion": osv["kernel"], "osImage": osv["pretty"],
                                           "containerRuntimeVersion": "containerd://1.7.13",
                                           "kubeletVersion": K8S_VERSION, "kubeProxyVersion": K8S_VERSION,
                                           "operatingSystem": "linux", "architecture": "amd64",
                                           "machineID": n["mac"].replace(":", "") + "0" * 20,
                                           "bootID": ""}}}
            if n["role"] == "control-plane":
                obj["spec"]["taints"] = [{"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}]
            self.put("nodes", None, obj)
            self.pods[n["name"]] = self.new_pod_record(n)
        nss = ["default", "kube-system", "kube-public", "kube-node-lease"]
        if self.ns not in nss:
            nss += [self.ns]
        if self.operator:
            nss += ["tigera-operator"]
        for nsname in nss:
            self.put("namespaces", None, {"apiVersion": "v1", "kind": "Namespace", "metadata": self.meta(nsname),
                                          "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}})
        image = "docker.io/calico/node:v%s" % ver
        self.put("daemonsets", self.ns, {
            "apiVersion": "apps/v1", "kind": "DaemonSet",
            "metadata": self.meta("calico-node", self.ns, labels={"k8s-app": "calico-node"}, generation=1,
                                  annotations={"deprecated.daemonset.template.generation": "1"}),
            "spec": {"selector": {"matchLabels": {"k8s-app": "calico-node"}},
                     "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}},
                     "revisionHistoryLimit": 10,
                     "template": {"metadata": {"labels": {"k8s-app": "calico-node"}},
                                  "spec": {"hostNetwork": True, "serviceAccountName": "calico-node",
                                           "nodeSelector": {"kubernetes.io/os": "linux"},
                                           "containers": [{"name": "calico-node", "image": image,
                                                           "env": [{"name": "CALICO_IPV4POOL_VXLAN", "value": "Always" if vx else "Never"},
                                                                   {"name": "CALICO_IPV4POOL_IPIP", "value": "Never" if vx else "Always"},
                                                                   self._mtu_env()]}],
                                           "initContainers": [{"name": "install-cni", "image": "docker.io/calico/cni:v%s" % ver}]}}},
            "status": {}})
        self.put("deployments", self.ns, {
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": self.meta("calico-kube-controllers", self.ns, labels={"k8s-app": "calico-kube-controllers"},
                                  generation=1),
            "spec": {"replicas": 1, "selector": {"matchLabels": {"k8s-app": "calico-kube-controllers"}},
                     "strategy": {"type": "Recreate"},
                     "template": {"metadata": {"labels": {"k8s-app": "calico-kube-controllers"}},
                                  "spec": {"containers": [{"name": "calico-kube-controllers",
                                                           "image": "docker.io/calico/kube-controllers:v%s" % ver}]}}},
            "status": {}})
        self.kc = {"name": "calico-kube-controllers-%s-%s" % (suffix(10).lower()[:9], suffix()),
                   "node": c["nodes"][0]["name"], "started": time.time(), "restarts": 0,
                   "last_restart": time.time(), "ready": True}
        if self.operator:
            self.put("installations", None, {
                "apiVersion": "operator.tigera.io/v1", "kind": "Installation",
                "metadata": self.meta("default", generation=1),
                "spec": {"variant": "Calico", "registry": "docker.io/", "kubernetesProvider": "",
                         "cni": {"type": "Calico", "ipam": {"type": "Calico"}},
                         "calicoNetwork": {"bgp": "Disabled" if vx else "Enabled",
                                           "linuxDataplane": "Iptables",
                                           "nodeAddressAutodetectionV4": {"firstFound": True},
                                           "ipPools": [{"name": "default-ipv4-ippool", "cidr": "198.19.0.0/16",
                                                        "blockSize": 26, "natOutgoing": "Enabled",
                                                        "nodeSelector": "all()",
                                                        "encapsulation": "VXLAN" if vx else "IPIP"}]}},
                "status": {"variant": "Calico", "calicoVersion": "v%s" % ver, "mtu": VXLAN_MTU,
                           "conditions": [{"type": "Ready", "status": "True", "reason": "AllObjectsAvailable"}]}})
        else:
            self._put_calico_config(vx)
        self._init_calico_crs(vx, ver)

    def _mtu_env(self):
        if self.operator:
            return {"name": "FELIX_VXLANMTU", "value": str(self.installation_mtu() or VXLAN_MTU)}
        return {"name": "FELIX_VXLANMTU", "valueFrom": {"configMapKeyRef": {"name": "calico-config", "key": "veth_mtu"}}}

    def _put_calico_config(self, vx):
        self.put("configmaps", self.ns, {
            "apiVersion": "v1", "kind": "ConfigMap", "metadata": self.meta("calico-config", self.ns),
            "data": {"calico_backend": "vxlan" if vx else "bird", "veth_mtu": "0", "typha_service_name": "none",
                     "cni_network_config": json.dumps({"name": "k8s-pod-network", "cniVersion": "0.3.1",
                                                       "plugins": [{"type": "calico", "mtu": "__CNI_MTU__"}]})}})

    def _init_calico_crs(self, vx, ver):
        self.put("ippools", None, {
            "apiVersion": "crd.projectcalico.org/v1", "kind": "IPPool",
            "metadata": self.meta("default-ipv4-ippool"),
            "spec": {"cidr": "198.19.0.0/16", "blockSize": 26, "natOutgoing": True, "nodeSelector": "all()",
                     "vxlanMode": "Always" if vx else "Never", "ipipMode": "Never" if vx else "Always",
                     "allowedUses": ["Workload", "Tunnel"]}})
        self.put("felixconfigurations", None, {
            "apiVersion": "crd.projectcalico.org/v1", "kind": "FelixConfiguration", "metadata": self.meta("default"),
            "spec": {"bpfEnabled": False, "logSeverityScreen": "Info", "reportingInterval": "0s",
                     "vxlanVNI": 4096, "vxlanPort": 4789}})
        self.put("clusterinformations", None, {
            "apiVersion": "crd.projectcalico.org/v1", "kind": "ClusterInformation", "metadata": self.meta("default"),
            "spec": {"calicoVersion": "v%s" % ver, "clusterGUID": "%032x" % random.getrandbits(128),
                     "clusterType": "k8s,bgp,operator,kdd" if self.operator else "k8s,bgp,kubeadm,kdd", "datastoreReady": True}})

    def new_pod_record(self, n):
        return {"name": "calico-node-%s" % suffix(), "node": n["name"], "ip": n["ip"], "started": time.time(),
                "restarts": 0, "last_restart": time.time(), "ready": False, "revision": self.ds_revision,
                "uid": "%032x" % random.getrandbits(128)}

    # ------------------------------------------------------------------ dynamic objects
    def pod_object(self, rec, kc=False):
        ds = not kc
        if kc:
            image = "docker.io/calico/kube-controllers:v%s" % self.cluster["calico_version"]
            labels = {"k8s-app": "calico-kube-controllers", "pod-template-hash": rec["name"].split("-")[-2]}
            owner = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "-".join(rec["name"].split("-")[:-1]),
                     "uid": "00000000-0000-4000-8000-000000000002", "controller": True}
            node = next(n for n in self.cluster["nodes"] if n["name"] == rec["node"])
            ip = node["pod_ip"]
            cname = "calico-kube-controllers"
        else:
            image = "docker.io/calico/node:v%s" % self.cluster["calico_version"]
            labels = {"k8s-app": "calico-node", "controller-revision-hash": "rev%d" % rec["revision"],
                      "pod-template-generation": str(rec["revision"])}
            owner = {"apiVersion": "apps/v1", "kind": "DaemonSet", "name": "calico-node",
                     "uid": "00000000-0000-4000-8000-000000000001", "controller": True}
            ip = rec["ip"]
            cname = "calico-node"
        ready = rec["ready"]
        st = now_iso(rec["started"])
        cstate = {"running": {"startedAt": now_iso(rec["last_restart"])}}
        cs = {"name": cname, "image": image, "imageID": image + "@sha256:" + "0" * 64, "ready": ready,
              "started": True, "restartCount": rec["restarts"], "state": cstate,
              "containerID": "containerd://%064x" % (hash(rec["name"] + str(rec["restarts"])) & ((1 << 256) - 1))}
        if rec["restarts"]:
            cs["lastState"] = {"terminated": {"exitCode": 1, "reason": "Error", "finishedAt": now_iso(rec["last_restart"])}}
        cond = "True" if ready else "False"
        return {"apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": rec["name"], "namespace": self.ns, "labels": labels,
                             "uid": rec.get("uid", "0"), "ownerReferences": [owner],
                             "resourceVersion": str(self.rv), "creationTimestamp": st},
                "spec": {"nodeName": self.k8s.get(rec["node"], rec["node"]), "hostNetwork": ds, "containers": [{"name": cname, "image": image}],
                         "restartPolicy": "Always"},
                "status": {"phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}], "hostIP": rec.get("ip", ip),
                           "startTime": st, "qosClass": "Burstable",
                           "conditions": [{"type": "Initialized", "status": "True"},
                                          {"type": "Ready", "status": cond},
                                          {"type": "ContainersReady", "status": cond},
                                          {"type": "PodScheduled", "status": "True"}],
                           "containerStatuses": [cs]}}

    def list_pods(self):
        out = [self.pod_object(r) for r in self.pods.values() if r is not None]
        out.append(self.pod_object(self.kc, kc=True))
        out += [self.probe_pod_object(n) for n in self.cluster["nodes"]]
        return out

    def probe_pod_object(self, n):
        """The CoreDNS-like listener on every node's pod address (TCP 53), as a read-only pod
        labelled like CoreDNS, so tools find pod addresses to probe the way they would in a cluster."""
        st = now_iso(self.created)
        return {"apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": "coredns-lab-%s" % n["name"], "namespace": "kube-system",
                             "labels": {"k8s-app": "kube-dns"}, "uid": "%032x" % (n["index"] + 1 << 64),
                             "resourceVersion": str(self.rv), "creationTimestamp": st},
                "spec": {"nodeName": self.k8s[n["name"]], "containers": [{"name": "coredns", "image": "registry.k8s.io/coredns/coredns:v1.11.1",
                                                               "ports": [{"containerPort": 53, "protocol": "TCP"}]}]},
                "status": {"phase": "Running", "podIP": n["pod_ip"], "podIPs": [{"ip": n["pod_ip"]}], "hostIP": n["ip"],
                           "startTime": st, "conditions": [{"type": "Ready", "status": "True"}],
                           "containerStatuses": [{"name": "coredns", "ready": True, "restartCount": 0, "started": True,
                                                  "state": {"running": {"startedAt": st}}}]}}

    def ds_object(self):
        ds = copy.deepcopy(self.store[("daemonsets", self.ns, "calico-node")])
        recs = [r for r in self.pods.values() if r is not None]
        n = len(self.cluster["nodes"])
        ready = sum(1 for r in recs if r["ready"])
        upd = sum(1 for r in recs if r["revision"] == self.ds_revision)
        ds["metadata"]["resourceVersion"] = str(self.rv)
        ds["status"] = {"currentNumberScheduled": n, "desiredNumberScheduled": n, "numberMisscheduled": 0,
                        "numberReady": ready, "numberAvailable": ready, "numberUnavailable": n - ready,
                        "updatedNumberScheduled": upd, "observedGeneration": ds["metadata"]["generation"]}
        return ds

    def deploy_object(self):
        d = copy.deepcopy(self.store[("deployments", self.ns, "calico-kube-controllers")])
        r = 1 if self.kc["ready"] else 0
        d["metadata"]["resourceVersion"] = str(self.rv)
        d["status"] = {"observedGeneration": d["metadata"]["generation"], "replicas": 1, "updatedReplicas": 1,
                       "readyReplicas": r, "availableReplicas": r, "unavailableReplicas": 1 - r,
                       "conditions": [{"type": "Available", "status": "True" if r else "False"}]}
        return d

    def kc_logs(self):
        t0 = self.kc["last_restart"]
        lines = ["%s [INFO][1] main.go 99: Loaded configuration from environment config=&config.Config{LogLevel:\"info\", DatastoreType:\"kubernetes\"}" % now_iso(t0),
                 "%s [INFO][1] k8s.go 240: Using Calico IPAM" % now_iso(t0)]
        if self.broken_since is not None:
            for i in range(3):
                t = now_iso(t0 + 1 + i * 10)
                lines.append('%s [ERROR][1] client.go 290: Error getting cluster information config ClusterInformation="default" '
                             'error=Get "https://10.96.0.1:443/apis/crd.projectcalico.org/v1/clusterinformations/default": '
                             'dial tcp 10.96.0.1:443: i/o timeout' % t)
            lines.append('%s [FATAL][1] main.go 138: Failed to initialize Calico datastore error=Get '
                         '"https://10.96.0.1:443/apis/crd.projectcalico.org/v1/clusterinformations/default": '
                         'dial tcp 10.96.0.1:443: i/o timeout' % now_iso(t0 + 31))
        else:
            lines += ["%s [INFO][1] main.go 183: Starting status report routine" % now_iso(t0 + 1),
                      "%s [INFO][1] main.go 372: Starting controller ControllerType=\"Node\"" % now_iso(t0 + 1),
                      "%s [INFO][1] ipam.go 235: Synchronizing IPAM data" % now_iso(t0 + 2),
                      "%s [INFO][1] ipam.go 313: Node and IPAM data is in sync" % now_iso(t0 + 2)]
        return "\n".join(lines) + "\n"

    def node_logs(self, rec):
        t0 = rec["last_restart"]
        lines = ["%s [INFO][1] startup/startup.go 427: Early log level set to info" % now_iso(t0),
                 "%s [INFO][9] felix/daemon.go 383: Successfully loaded configuration. GOMAXPROCS=2 builddate=\"\" "
                 "config=%s" % (now_iso(t0 + 1), self.felix_override() or "<default>"),
                 "%s [INFO][9] felix/vxlan_mgr.go 690: VXLAN tunnel device configured" % now_iso(t0 + 2)]
        if not rec["ready"]:
            lines.append("%s [WARNING][9] felix/health.go 211: Reporter is not ready. name=\"int_dataplane\"" % now_iso())
        return "\n".join(lines) + "\n"
