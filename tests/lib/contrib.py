#!/usr/bin/python3
"""Reads the examples under contrib/ for tests/integration/test_contrib.sh.

  contrib.py missing-keys EXAMPLE HELP   "[section] key" of every key in HELP
                                         (the output of `qdeck --help-config`)
                                         that EXAMPLE neither sets nor shows
                                         as ";key = value" or "#key = value"
  contrib.py local-urls EXAMPLE PORT SOCK  EXAMPLE with every broker URL's
                                         host:port made 127.0.0.1:PORT and
                                         every unix:// socket SOCK
  contrib.py contexts EXAMPLE            the names of its [context NAME]s
  contrib.py get EXAMPLE SECTION KEY     a key's value (commented-out keys
                                         do not count), or nothing
  contrib.py k8s YAML                    the worker Deployment's facts as JSON

Needs Debian's python3-yaml (hence /usr/bin/python3, not a python3 from PATH).
"""
import json
import re
import sys

SETTING = re.compile(r"^([;#]?)\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$")
SECTION = re.compile(r"^\[([^\]]+)\]\s*$")


def strip_comment(value):
    """inih's inline comment: a ';' after whitespace ends the value."""
    m = re.search(r"\s;", value)
    return (value[: m.start()] if m else value).strip()


def sections(path):
    """(section, key, value, commented) for every setting line."""
    current = "qdeck"
    for line in open(path, encoding="utf-8"):
        line = line.rstrip("\n")
        m = SECTION.match(line)
        if m:
            current = m.group(1).strip()
            continue
        m = SETTING.match(line)
        if m and not line.startswith(("; ", "# ")):
            yield current, m.group(2), strip_comment(m.group(3)), m.group(1) != ""


def kind(section):
    """"task llm.summarize" -> "task NAME"; "worker" -> "worker"."""
    head, _, name = section.partition(" ")
    return head + " NAME" if name else head


def missing_keys(example, help_path):
    wanted, current = [], None
    for line in open(help_path, encoding="utf-8"):
        m = SECTION.match(line.strip())
        if m:
            current = m.group(1)
        elif line.startswith("  ") and current:
            wanted.append((current, line.split()[0]))
    have = {(kind(s), k) for s, k, _, _ in sections(example)}
    for section, key in wanted:
        if (section, key) not in have:
            print(f"[{section}] {key}")
    return 0 if wanted else 1


def local_urls(example, port, sock):
    text = open(example, encoding="utf-8").read()
    text = re.sub(r"\bunix://[^\s?;]+", "unix://" + sock, text)
    text = re.sub(r"\b((?:amqps?|https?|rediss?)://(?:[^@/\s]*@)?)[^/:\s]+(?::\d+)?",
                  r"\g<1>127.0.0.1:" + port, text)
    sys.stdout.write(text)
    return 0


def contexts(example):
    for s in dict.fromkeys(s for s, _, _, _ in sections(example)):
        if s.startswith("context "):
            print(s.split(" ", 1)[1].strip())
    return 0


def get(example, section, key):
    for s, k, v, commented in sections(example):
        if s == section and k == key and not commented:
            print(v)
    return 0


def k8s(path):
    import yaml

    docs = [d for d in yaml.safe_load_all(open(path, encoding="utf-8")) if d]
    by_kind = {}
    for d in docs:
        by_kind.setdefault(d["kind"], []).append(d)
    dep = next(d for d in by_kind.get("Deployment", []) if d["metadata"]["name"] == "qdeck-worker")
    pod = dep["spec"]["template"]["spec"]
    c = pod["containers"][0]
    ports = {p.get("name"): p["containerPort"] for p in c.get("ports", [])}

    def probe(name):
        get_ = c.get(name, {}).get("httpGet", {})
        port = get_.get("port")
        return {"path": get_.get("path"), "port": ports.get(port, port)}

    config_maps = {d["metadata"]["name"]: d.get("data", {}) for d in by_kind.get("ConfigMap", [])}
    secrets = {d["metadata"]["name"]: sorted((d.get("stringData") or d.get("data") or {}).keys())
               for d in by_kind.get("Secret", [])}
    mounts = {m["name"]: m["mountPath"] for m in c.get("volumeMounts", [])}
    config_files = {}
    for v in pod.get("volumes", []):
        if "configMap" in v and v["name"] in mounts:
            for fname, text in config_maps.get(v["configMap"]["name"], {}).items():
                config_files[mounts[v["name"]] + "/" + fname] = text
    env, secret_refs = {}, []
    for e in c.get("env", []):
        ref = e.get("valueFrom", {}).get("secretKeyRef")
        if ref:
            secret_refs.append({"env": e["name"], "ok": ref["key"] in secrets.get(ref["name"], [])})
        else:
            env[e["name"]] = e.get("value", "")
    print(json.dumps({
        "replicas": dep["spec"].get("replicas"),
        "grace": pod.get("terminationGracePeriodSeconds"),
        "args": c.get("args", []),
        "liveness": probe("livenessProbe"),
        "readiness": probe("readinessProbe"),
        "ports": sorted(ports.values()),
        "resources": c.get("resources", {}),
        "env": env,
        "secret_refs": secret_refs,
        "config_files": config_files,
    }))
    return 0


def main(argv):
    cmds = {"missing-keys": (missing_keys, 2), "local-urls": (local_urls, 3),
            "contexts": (contexts, 1), "get": (get, 3), "k8s": (k8s, 1)}
    if len(argv) < 2 or argv[1] not in cmds or len(argv) - 2 != cmds[argv[1]][1]:
        print(__doc__, file=sys.stderr)
        return 2
    return cmds[argv[1]][0](*argv[2:])


if __name__ == "__main__":
    sys.exit(main(sys.argv))
