"""The kube API stand-in: enough of the Kubernetes REST API for the real kubectl (1.20 .. 1.32)."""
import copy
import json
import re
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from .kubeobjects import K8S_VERSION, json_patch, merge_patch, now_iso

CORE = {  # resource -> (kind, namespaced, shortnames, verbs)
    "nodes": ("Node", False, ["no"], ["get", "list", "watch", "patch", "update"]),
    "namespaces": ("Namespace", False, ["ns"], ["get", "list", "watch"]),
    "pods": ("Pod", True, ["po"], ["get", "list", "watch", "delete"]),
    "configmaps": ("ConfigMap", True, ["cm"], ["get", "list", "watch", "patch", "update"]),
}
APPS = {
    "daemonsets": ("DaemonSet", True, ["ds"], ["get", "list", "watch", "patch", "update"]),
    "deployments": ("Deployment", True, ["deploy"], ["get", "list", "watch", "patch", "update"]),
}
CALICO = {
    "ippools": ("IPPool", False, [], ["get", "list", "watch", "patch", "update"]),
    "felixconfigurations": ("FelixConfiguration", False, [], ["get", "list", "watch", "patch", "update"]),
    "clusterinformations": ("ClusterInformation", False, [], ["get", "list", "watch"]),
}
OPERATOR = {  # served only on clusters with the `operator` knob (Tigera operator install)
    "installations": ("Installation", False, [], ["get", "list", "watch", "patch", "update"]),
}
GROUPS = {"": ("v1", CORE), "apps": ("v1", APPS), "crd.projectcalico.org": ("v1", CALICO),
          "operator.tigera.io": ("v1", OPERATOR)}


def resource_list(group, version, table):
    gv = "%s/%s" % (group, version) if group else version
    res = []
    for name, (kind, namespaced, short, verbs) in table.items():
        r = {"name": name, "singularName": kind.lower(), "namespaced": namespaced, "kind": kind, "verbs": verbs}
        if short:
            r["shortNames"] = short
        res.append(r)
        if name == "pods":
            res.append({"name": "pods/log", "singularName": "", "namespaced": True, "kind": "Pod", "verbs": ["get"]})
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": res}


def age(ts):
    try:
        t = time.mktime(time.strptime(ts, "%Y-%m-%dT%H:%M:%SZ")) - time.timezone
    except (TypeError, ValueError):
        return "<unknown>"
    d = max(0, int(time.time() - t))
    if d < 120:
        return "%ds" % d
    if d < 7200:
        return "%dm" % (d // 60)
    if d < 172800:
        return "%dh" % (d // 3600)
    return "%dd" % (d // 86400)


def col(name, typ="string", priority=0, fmt=""):
    return {"name": name, "type": typ, "format": fmt, "description": name, "priority": priority}


def table_for(res, items):
    if res == "pods":
        cols = [col("Name", fmt="name"), col("Ready"), col("Status"), col("Restarts", "string"), col("Age"),
                col("IP", priority=1), col("Node", priority=1), col("Nominated Node", priority=1),
                col("Readiness Gates", priority=1)]

        def cells(o):
            cs = o["status"]["containerStatuses"]
            r = sum(1 for c in cs if c["ready"])
            return [o["metadata"]["name"], "%d/%d" % (r, len(cs)), o["status"]["phase"],
                    str(sum(c["restartCount"] for c in cs)), age(o["metadata"]["creationTimestamp"]),
                    o["status"]["podIP"], o["spec"]["nodeName"], "<none>", "<none>"]
    elif res == "nodes":
        cols = [col("Name", fmt="name"), col("Status"), col("Roles"), col("Age"), col("Version"),
                col("Internal-IP", priority=1), col("External-IP", priority=1), col("OS-Image", priority=1),
                col("Kernel-Version", priority=1), col("Container-Runtime", priority=1)]

        def cells(o):
            roles = [k.split("/", 1)[1] for k in o["metadata"]["labels"] if k.startswith("node-role.kubernetes.io/")]
            ni = o["status"]["nodeInfo"]
            return [o["metadata"]["name"], "Ready", ",".join(roles) or "<none>", age(o["metadata"]["creationTimestamp"]),
                    ni["kubeletVersion"], o["status"]["addresses"][0]["address"], "<none>", ni["osImage"],
                    ni["kernelVersion"], ni["containerRuntimeVersion"]]
    elif res == "daemonsets":
        cols = [col("Name", fmt="name"), col("Desired", "integer"), col("Current", "integer"), col("Ready", "integer"),
                col("Up-to-date", "integer"), col("Available", "integer"), col("Node Selector"), col("Age"),
                col("Containers", priority=1), col("Images", priority=1), col("Selector", priority=1)]

        def cells(o):
            s = o["status"]
            c = o["spec"]["template"]["spec"]["containers"]
            return [o["metadata"]["name"], s["desiredNumberScheduled"], s["currentNumberScheduled"], s["numberReady"],
                    s["updatedNumberScheduled"], s["numberAvailable"], "kubernetes.io/os=linux",
                    age(o["metadata"]["creationTimestamp"]), ",".join(x["name"] for x in c),
                    ",".join(x["image"] for x in c), "k8s-app=calico-node"]
    elif res == "deployments":
        cols = [col("Name", fmt="name"), col("Ready"), col("Up-to-date", "integer"), col("Available", "integer"), col("Age")]

        def cells(o):
            s = o["status"]
            return [o["metadata"]["name"], "%d/1" % s["readyReplicas"], s["updatedReplicas"], s["availableReplicas"],
                    age(o["metadata"]["creationTimestamp"])]
    elif res == "configmaps":
        cols = [col("Name", fmt="name"), col("Data", "integer"), col("Age")]

        def cells(o):
            return [o["metadata"]["name"], len(o.get("data", {})), age(o["metadata"]["creationTimestamp"])]
    elif res == "namespaces":
        cols = [col("Name", fmt="name"), col("Status"), col("Age")]

        def cells(o):
            return [o["metadata"]["name"], "Active", age(o["metadata"]["creationTimestamp"])]
    else:
        cols = [col("Name", fmt="name"), col("Created At", "date")]

        def cells(o):
            return [o["metadata"]["name"], o["metadata"]["creationTimestamp"]]
    return {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": {}, "columnDefinitions": cols,
            "rows": [{"cells": cells(o), "object": o} for o in items]}


def match_labels(obj, sel):
    labels = obj["metadata"].get("labels", {}) or {}
    for term in filter(None, (sel or "").split(",")):
        term = term.strip()
        if "!=" in term:
            k, v = term.split("!=", 1)
            if labels.get(k.strip()) == v.strip():
                return False
        elif "=" in term:
            k, v = term.replace("==", "=").split("=", 1)
            if labels.get(k.strip()) != v.strip():
                return False
        elif term.startswith("!"):
            if term[1:] in labels:
                return False
        elif term not in labels:
            return False
    return True


def match_fields(obj, sel):
    for term in filter(None, (sel or "").split(",")):
        neg = "!=" in term
        k, v = term.replace("!=", "=").replace("==", "=").split("=", 1)
        cur = {"metadata.name": obj["metadata"].get("name"), "metadata.namespace": obj["metadata"].get("namespace"),
               "spec.nodeName": obj.get("spec", {}).get("nodeName"),
               "status.phase": obj.get("status", {}).get("phase")}.get(k)
        if (cur == v) == neg:
            return False
    return True


class ApiError(Exception):
    def __init__(self, code, reason, msg):
        super().__init__(msg)
        self.code, self.reason, self.msg = code, reason, msg


class KubeAPI:
    """Routes requests against a ClusterObjects; the agent supplies boot ids and the audit path."""

    def __init__(self, objs, audit_path, boot_id_of):
        self.o = objs
        self.audit_path = audit_path
        self.boot_id_of = boot_id_of

    def groups(self):
        if self.o.operator:
            return GROUPS
        return {g: v for g, v in GROUPS.items() if g != "operator.tigera.io"}

    # ---------------------------------------------------------------- object access
    def items(self, res, ns):
        o = self.o
        if res == "pods":
            out = o.list_pods()
        elif res == "daemonsets":
            out = [o.ds_object()]
        elif res == "deployments":
            out = [o.deploy_object()]
        else:
            out = [copy.deepcopy(v) for (r, _n, _name), v in o.store.items() if r == res]
            if res == "nodes":
                for x in out:
                    x["status"]["nodeInfo"]["bootID"] = self.boot_id_of(
                        o.lab_name.get(x["metadata"]["name"], x["metadata"]["name"]))
                    x["status"]["conditions"][0]["lastHeartbeatTime"] = now_iso()
        if ns:
            out = [x for x in out if x["metadata"].get("namespace") == ns]
        return out

    def get_one(self, res, ns, name):
        for x in self.items(res, ns):
            if x["metadata"]["name"] == name:
                return x
        raise ApiError(404, "NotFound", '%s "%s" not found' % (res, name))

    def stored_key(self, res, ns, name):
        k = (res, ns if res in ("configmaps", "daemonsets", "deployments", "pods") else None, name)
        if k not in self.o.store:
            raise ApiError(404, "NotFound", '%s "%s" not found' % (res, name))
        return k

    # ---------------------------------------------------------------- mutations
    def patch(self, res, ns, name, ctype, body):
        o = self.o
        with o.lock:
            k = self.stored_key(res, ns, name)
            obj = copy.deepcopy(o.store[k])
            before = json.dumps(obj.get("spec", {}).get("template"), sort_keys=True)
            p = json.loads(body or b"{}")
            if "json-patch" in ctype:
                obj = json_patch(obj, p)
            else:  # merge-patch, strategic-merge-patch (lists replaced), apply-patch approximated
                obj = merge_patch(obj, p)
            obj["metadata"]["name"] = name
            after = json.dumps(obj.get("spec", {}).get("template"), sort_keys=True)
            if before != after and res in ("daemonsets", "deployments"):
                obj["metadata"]["generation"] = obj["metadata"].get("generation", 1) + 1
                if res == "daemonsets":
                    o.ds_revision += 1
                    obj["metadata"].setdefault("annotations", {})["deprecated.daemonset.template.generation"] = str(o.ds_revision)
                    o.rollout_queue = [n["name"] for n in o.cluster["nodes"]]
                else:
                    o.kc_restart_requested = True
            mtu_before = o.installation_mtu()
            o.put(res, k[1], obj)
            self.after_installation_change(res, mtu_before)
            return {"daemonsets": o.ds_object, "deployments": o.deploy_object}.get(res, lambda: copy.deepcopy(obj))()

    def put(self, res, ns, name, body):
        new = json.loads(body)
        with self.o.lock:
            k = self.stored_key(res, ns, name)
            cur = self.o.store[k]
            rv = new.get("metadata", {}).get("resourceVersion")
            if rv and rv != cur["metadata"]["resourceVersion"]:
                raise ApiError(409, "Conflict", "the object has been modified; please apply your changes to the latest version")
            if res in ("daemonsets", "deployments"):
                # treat like a patch of the template
                return self.patch(res, ns, name, "merge", json.dumps({"spec": new.get("spec", {})}).encode())
            mtu_before = self.o.installation_mtu()
            self.o.put(res, k[1], new)
            self.after_installation_change(res, mtu_before)
            return copy.deepcopy(new)

    def after_installation_change(self, res, mtu_before):
        """Like the Tigera operator: a changed spec.calicoNetwork.mtu rolls every calico-node pod."""
        o = self.o
        if res != "installations" or not o.operator:
            return
        mtu = o.installation_mtu()
        if mtu != mtu_before:
            o.start_rollout("mtu-%d" % mtu)

    def delete(self, res, ns, name):
        o = self.o
        if res != "pods":
            raise ApiError(405, "MethodNotAllowed", "the lab only deletes pods")
        with o.lock:
            for node, rec in o.pods.items():
                if rec is not None and rec["name"] == name:
                    obj = o.pod_object(rec)
                    o.pods[node] = None
                    o.pending_since = getattr(o, "pending_since", {})
                    o.pending_since[node] = time.time()
                    o.bump()
                    obj["metadata"]["deletionTimestamp"] = now_iso()
                    return obj
            if o.kc["name"] == name:
                obj = o.pod_object(o.kc, kc=True)
                o.kc_restart_requested = True
                o.bump()
                return obj
        raise ApiError(404, "NotFound", 'pods "%s" not found' % name)

    def audit(self, entry):
        with open(self.audit_path, "a") as f:
            f.write(json.dumps(entry, sort_keys=True) + "\n")


def status_obj(code, reason, msg):
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": msg,
            "reason": reason, "code": code}


PATH_RE = re.compile(r"^/(?:api/(?P<cv>v1)|apis/(?P<g>[^/]+)/(?P<v>[^/]+))"
                     r"(?:/namespaces/(?P<ns>[^/]+)(?=/))?/(?P<res>[^/]+)(?:/(?P<name>[^/]+))?(?:/(?P<sub>[^/]+))?$")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    api = None  # set on the subclass

    def log_message(self, fmt, *args):
        pass

    def send_json(self, code, obj, ctype="application/json"):
        data = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Audit-Id", "caulk-lab")
        self.end_headers()
        self.wfile.write(data)

    def send_text(self, code, text):
        data = text.encode()
        self.send_response(code)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def do_GET(self):
        self.dispatch("GET")

    def do_PATCH(self):
        self.dispatch("PATCH")

    def do_PUT(self):
        self.dispatch("PUT")

    def do_DELETE(self):
        self.dispatch("DELETE")

    def do_POST(self):
        self.dispatch("POST")

    def dispatch(self, verb):
        u = urlsplit(self.path)
        q = {k: v[-1] for k, v in parse_qs(u.query).items()}
        body = self.body() if verb != "GET" else b""
        code = 200
        try:
            code = self.route(verb, u.path.rstrip("/") or "/", q, body)
        except ApiError as e:
            code = e.code
            self.send_json(e.code, status_obj(e.code, e.reason, e.msg))
        except (ValueError, KeyError, TypeError) as e:
            code = 400
            self.send_json(400, status_obj(400, "BadRequest", "%s: %s" % (type(e).__name__, e)))
        except (BrokenPipeError, ConnectionResetError):
            return
        if verb != "GET":
            try:
                b = json.loads(body) if body else None
            except ValueError:
                b = body.decode(errors="replace")
            self.api.audit({"time": now_iso(), "verb": verb, "path": u.path, "query": u.query, "code": code,
                            "contentType": self.headers.get("Content-Type"), "body": b,
                            "userAgent": self.headers.get("User-Agent")})

    def route(self, verb, path, q, body):
        api = self.api
        GROUPS = api.groups()  # noqa: N806 - shadows the module table on purpose
        accept = self.headers.get("Accept", "")
        if path == "/version":
            self.send_json(200, {"major": "1", "minor": "29", "gitVersion": K8S_VERSION, "platform": "linux/amd64",
                                 "goVersion": "go1.21.11", "compiler": "gc", "buildDate": "2024-06-11T20:20:46Z",
                                 "gitCommit": "0" * 40, "gitTreeState": "clean"})
            return 200
        if path in ("/healthz", "/livez", "/readyz"):
            self.send_text(200, "ok")
            return 200
        if path == "/api":
            self.send_json(200, {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": [
                {"clientCIDR": "0.0.0.0/0", "serverAddress": self.server.server_address[0] + ":6443"}]})
            return 200
        if path == "/apis":
            groups = []
            for g, (v, _t) in GROUPS.items():
                if g:
                    gv = {"groupVersion": "%s/%s" % (g, v), "version": v}
                    groups.append({"name": g, "versions": [gv], "preferredVersion": gv})
            self.send_json(200, {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
            return 200
        if path == "/api/v1":
            self.send_json(200, resource_list("", "v1", CORE))
            return 200
        m = re.match(r"^/apis/([^/]+)(?:/([^/]+))?$", path)
        if m and m.group(1) in GROUPS:
            v, t = GROUPS[m.group(1)]
            if m.group(2) == v:
                self.send_json(200, resource_list(m.group(1), v, t))
            else:
                gv = {"groupVersion": "%s/%s" % (m.group(1), v), "version": v}
                self.send_json(200, {"kind": "APIGroup", "apiVersion": "v1", "name": m.group(1), "versions": [gv],
                                     "preferredVersion": gv})
            return 200
        m = PATH_RE.match(path)
        if not m:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        group = m.group("g") or ""
        version = m.group("cv") or m.group("v")
        res, ns, name, sub = m.group("res"), m.group("ns"), m.group("name"), m.group("sub")
        if group not in GROUPS or GROUPS[group][0] != version or res not in GROUPS[group][1]:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        if res == "namespaces" and name and sub is None and ns is None:
            pass
        kind, namespaced, _s, _v = GROUPS[group][1][res]
        if verb == "GET":
            if sub == "log":
                return self.logs(ns, name, q)
            if sub:
                raise ApiError(404, "NotFound", "subresource %s not supported" % sub)
            if q.get("watch") in ("true", "1"):
                return self.watch(res, ns, name, q)
            with api.o.lock:
                if name:
                    obj = api.get_one(res, ns, name)
                    items = [obj]
                else:
                    items = [x for x in api.items(res, ns)
                             if match_labels(x, q.get("labelSelector")) and match_fields(x, q.get("fieldSelector"))]
                rv = str(api.o.rv)
            if "as=Table" in accept:
                t = table_for(res, items)
                t["metadata"]["resourceVersion"] = rv
                self.send_json(200, t)
            elif name:
                self.send_json(200, items[0])
            else:
                gv = "%s/%s" % (group, version) if group else version
                self.send_json(200, {"kind": kind + "List", "apiVersion": gv, "metadata": {"resourceVersion": rv},
                                     "items": items})
            return 200
        if not name:
            raise ApiError(405, "MethodNotAllowed", "collection %s not supported by the lab" % verb)
        if verb == "PATCH":
            self.send_json(200, api.patch(res, ns, name, self.headers.get("Content-Type", ""), body))
        elif verb == "PUT":
            self.send_json(200, api.put(res, ns, name, body))
        elif verb == "DELETE":
            self.send_json(200, api.delete(res, ns, name))
        else:
            raise ApiError(405, "MethodNotAllowed", "%s not supported by the lab" % verb)
        return 200

    def logs(self, ns, name, q):
        o = self.api.o
        with o.lock:
            if o.kc["name"] == name:
                text = o.kc_logs()
            else:
                rec = next((r for r in o.pods.values() if r is not None and r["name"] == name), None)
                if rec is None:
                    raise ApiError(404, "NotFound", 'pods "%s" not found' % name)
                text = o.node_logs(rec)
        if q.get("tailLines"):
            lines = text.splitlines()[-int(q["tailLines"]):]
            text = "\n".join(lines) + ("\n" if lines else "")
        self.send_text(200, text)
        return 200

    def watch(self, res, ns, name, q):
        api = self.api
        timeout = min(float(q.get("timeoutSeconds") or 600), 1800)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

        def snapshot():
            with api.o.lock:
                out = {}
                for x in api.items(res, ns):
                    if name and x["metadata"]["name"] != name:
                        continue
                    if match_labels(x, q.get("labelSelector")) and match_fields(x, q.get("fieldSelector")):
                        out[x["metadata"]["name"]] = x
                return out

        def send(typ, obj):
            data = (json.dumps({"type": typ, "object": obj}) + "\n").encode()
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            self.wfile.flush()

        last = snapshot()
        if not q.get("resourceVersion") or q.get("resourceVersion") == "0" or q.get("sendInitialEvents") == "true":
            for obj in last.values():
                send("ADDED", obj)
        lastj = {k: json.dumps(_strip_rv(v), sort_keys=True) for k, v in last.items()}
        end = time.time() + timeout
        try:
            while time.time() < end:
                time.sleep(0.3)
                cur = snapshot()
                for k, v in cur.items():
                    j = json.dumps(_strip_rv(v), sort_keys=True)
                    if k not in lastj:
                        send("ADDED", v)
                    elif lastj[k] != j:
                        send("MODIFIED", v)
                    lastj[k] = j
                for k in list(lastj):
                    if k not in cur:
                        send("DELETED", last.get(k) or {"metadata": {"name": k}})
                        del lastj[k]
                last.update(cur)
            self.wfile.write(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError, OSError):
            pass
        self.close_connection = True
        return 200


def _strip_rv(obj):
    o = dict(obj)
    md = dict(o.get("metadata", {}))
    md.pop("resourceVersion", None)
    o["metadata"] = md
    st = o.get("status")
    if isinstance(st, dict) and "conditions" in st:
        st = copy.deepcopy(st)
        for c in st["conditions"]:
            c.pop("lastHeartbeatTime", None)
        o["status"] = st
    return o


def make_server(addr, api, certfile=None, keyfile=None):
    h = type("BoundHandler", (Handler,), {"api": api})
    srv = ThreadingHTTPServer(addr, h)
    srv.daemon_threads = True
    if certfile:
        import ssl
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(certfile, keyfile)
        ctx.set_alpn_protocols(["http/1.1"])
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    return srv
