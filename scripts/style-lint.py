#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Compiler and clippy findings of the CLIPPY=1 kernel builds, for make style.

Clippy runs as the compiler of the kernel build (CLIPPY=1: clippy-driver
replaces rustc), so its warnings appear once, when a unit is compiled, and
not in a later build that finds the unit up to date. build-kernel.sh
therefore passes every build log to `record`, which keeps, per compiled
unit (rust/kernel.o, hw/gaudi/gaudi.o, ...), the findings in our files from
the unit's last compile in a state file next to the objects. `report` prints
the recorded findings and fails if one of our source files belongs to a
unit without a record of a CLIPPY=1 compile; `missing` lists the objects of
such units, which build-kernel.sh deletes so that the build compiles them.

Our files are the repository's kernel sources and, in kernel files the
glue patches change, the lines the patches add (the tree against the
pristine source); a finding elsewhere in the kernel is not ours.

A finding is a line "path:line: tool: TYPE: message", as in style.sh.
"""

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile

QUIET = re.compile(r"^\s+(CLIPPY|RUSTC|CC)\s+(?:\[M\]\s+|L\s+)?(\S+\.o)\s*$")
RUST_HEADER = re.compile(r"^(warning|error)(?:\[\w+\])?: (.*)$")
RUST_LOC = re.compile(r"^\s*--> (.+?):(\d+):(\d+)$")
C_DIAG = re.compile(r"^(.+?\.[ch]):(\d+):(\d+): (warning|error): (.*?)(?: \[(-W[\w=-]+)\])?$")
LINT_NAMES = [
    re.compile(r"#\[(?:warn|deny)\(([\w:]+)\)\]"),
    re.compile(r"requested on the command line with `-[WD] ([\w:-]+)`"),
    re.compile(r"rust-clippy/[^ ]*index\.html#(\w+)"),
]


class Ctx:
    """Where things are: the repository, the kernel tree and its links."""

    def __init__(self, repo, links, src=None, pristine=None, objtree=None):
        self.repo = os.path.abspath(repo)
        # [(path in tree, path in repo)]
        self.links = [tuple(link.split("=", 1)) for link in links]
        self.src = src and os.path.abspath(src)
        self.pristine = pristine and os.path.abspath(pristine)
        self.objtree = objtree and os.path.abspath(objtree)
        self._added = {}

    def tree_to_repo(self, path):
        for tree, repo in self.links:
            if path == tree or path.startswith(tree + "/"):
                return repo + path[len(tree):]
        return None

    def repo_to_tree(self, path):
        for tree, repo in self.links:
            if path == repo or path.startswith(repo + "/"):
                return tree + path[len(repo):]
        return None

    def added_lines(self, tree_path):
        """Lines of a kernel file that the glue patches added."""
        if tree_path not in self._added:
            lines = set()
            new = os.path.join(self.src or "", tree_path)
            old = os.path.join(self.pristine or "", tree_path)
            if self.src and self.pristine and os.path.isfile(new):
                if not os.path.exists(old):
                    old = "/dev/null"
                out = subprocess.run(["diff", "-U0", old, new], capture_output=True,
                                     text=True).stdout
                for m in re.finditer(r"^@@ -\S+ \+(\d+)(?:,(\d+))? @@", out, re.M):
                    start, count = int(m.group(1)), int(m.group(2) or "1")
                    lines.update(range(start, start + count))
            self._added[tree_path] = lines
        return self._added[tree_path]

    def ours(self, kind, path, line):
        """(path, patched) of a diagnostic location if it is ours, else
        None: the repository path, or the kernel path of a line the glue
        patches add."""
        if os.path.isabs(path):
            absolute = os.path.normpath(path)
        elif kind == "module":
            absolute = os.path.normpath(os.path.join(self.repo, path))
        else:
            # Relative paths of an O= build are relative to the object tree
            # or to the source tree.
            absolute = None
            for base in (self.objtree, self.src):
                if base and os.path.exists(os.path.join(base, path)):
                    absolute = os.path.normpath(os.path.join(base, path))
                    break
            if absolute is None:
                absolute = os.path.normpath(os.path.join(self.src or self.repo, path))
        if absolute.startswith(self.repo + "/"):
            return absolute[len(self.repo) + 1:], False
        if self.src and absolute.startswith(self.src + "/"):
            tree = absolute[len(self.src) + 1:]
            repo = self.tree_to_repo(tree)
            if repo:
                return repo, False
            if line in self.added_lines(tree):
                return tree, True
        return None

    def unit(self, kind, path):
        """The compiled unit (object) a source file of ours belongs to."""
        tree = self.repo_to_tree(path) if kind == "kernel" else None
        if tree is None and kind == "kernel":
            tree = path
        if kind == "kernel":
            if tree.startswith("rust/kernel/") and tree.endswith(".rs"):
                return "rust/kernel.o"
            if tree.startswith("rust/helpers/"):
                return "rust/helpers/helpers.o"
            if tree.endswith(".c"):
                return tree[:-2] + ".o"
            return None
        if path.endswith(".c"):
            return path[:-2] + ".o"
        if path.endswith(".rs"):
            # A Rust module is one crate per obj-m entry of its Kbuild; the
            # other .rs files of the directory are modules of that crate.
            d = os.path.dirname(path)
            roots = []
            try:
                with open(os.path.join(self.repo, d, "Kbuild")) as f:
                    for name in re.findall(r"(\w+)\.o\b", f.read()):
                        if os.path.exists(os.path.join(self.repo, d, name + ".rs")):
                            roots.append(name)
            except OSError:
                pass
            stem = os.path.basename(path)[:-3]
            if stem in roots:
                return os.path.join(d, stem + ".o")
            if len(roots) == 1:
                return os.path.join(d, roots[0] + ".o")
        return None


def parse_log(ctx, kind, text):
    """Compiled units and our findings in a kbuild log:
    ({unit: driver}, [(unit, finding)])."""
    units = {}
    findings = []
    lines = text.splitlines()
    modout_prefixes = [p + "/" for p in (ctx.objtree, ctx.repo) if p]

    def unit_name(obj):
        if kind == "module":
            for prefix in modout_prefixes:
                if obj.startswith(prefix):
                    return obj[len(prefix):]
        return obj

    def add(path, line, tool, typ, msg):
        found = ctx.ours(kind, path, line)
        if found is None:
            return
        mine, patched = found
        unit = ctx.unit(kind, mine) or "?"
        note = " (a line kernel/patches adds)" if patched else ""
        findings.append((unit, f"{mine}:{line}: {tool}: {typ}: {msg}{note}"))

    i = 0
    while i < len(lines):
        line = lines[i]
        m = QUIET.match(line)
        if m:
            units[unit_name(m.group(2))] = m.group(1)
            i += 1
            continue
        m = C_DIAG.match(line)
        if m:
            path, lno, _, level, msg, flag = m.groups()
            add(path, int(lno), "clippy", flag or level.upper(), f"{level}: {msg}")
            i += 1
            continue
        m = RUST_HEADER.match(line)
        if m:
            level, msg = m.groups()
            # The block runs to the next blank line; its first "-->" is the
            # primary location.
            j = i + 1
            loc = None
            lint = None
            while j < len(lines) and lines[j].strip() and not RUST_HEADER.match(lines[j]) \
                    and not QUIET.match(lines[j]):
                if loc is None:
                    loc = RUST_LOC.match(lines[j])
                for pat in LINT_NAMES:
                    n = pat.search(lines[j])
                    if n and lint is None:
                        lint = n.group(1).replace("-", "_")
                        if pat is LINT_NAMES[2]:
                            lint = "clippy::" + lint
                j += 1
            if loc:
                add(loc.group(1), int(loc.group(2)), "clippy", lint or level.upper(),
                    f"{level}: {msg}")
            i = j
            continue
        i += 1
    return units, findings


def load(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}


def save(path, state):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(state, f, indent=1, sort_keys=True)
    os.replace(tmp, path)


def record(ctx, kind, log, state_path, dirs):
    with open(log, errors="replace") as f:
        units, findings = parse_log(ctx, kind, f.read())
    state = load(state_path)
    # Our units, and any other that a finding of ours names.
    ours = {u for (k, u) in required(ctx, dirs) if k == kind}
    for unit, driver in units.items():
        if unit in ours:
            state[unit] = {"driver": driver, "findings": []}
    # Findings whose unit is not known ("?", a header of a module, say)
    # last until a build compiles anything.
    if units:
        state.pop("?", None)
    for unit, finding in findings:
        entry = state.setdefault(unit, {"driver": "?", "findings": []})
        if finding not in entry["findings"]:
            entry["findings"].append(finding)
    save(state_path, state)


def kernel_sources(ctx, dirs):
    files = []
    for d in dirs:
        found = []
        for base, _, names in os.walk(os.path.join(ctx.repo, d)):
            for name in names:
                if name.endswith((".rs", ".c")):
                    found.append(os.path.relpath(os.path.join(base, name), ctx.repo))
        if not found:
            sys.exit(f"style-lint: no kernel sources below {d}")
        files += sorted(found)
    return files


def required(ctx, dirs):
    """(kind, unit, driver, example file) for every unit of ours."""
    req = {}
    for path in kernel_sources(ctx, dirs):
        kind = "kernel" if ctx.repo_to_tree(path) else "module"
        unit = ctx.unit(kind, path)
        if unit is None:
            sys.exit(f"style-lint: {path}: no compiled unit known for it "
                     "(teach Ctx.unit in scripts/style-lint.py)")
        driver = "CLIPPY" if path.endswith(".rs") else "CC"
        req.setdefault((kind, unit), (driver, path))
    # The glue patches change Rust and C files of the kernel.
    for tree in patched_files(ctx):
        unit = ctx.unit("kernel", tree)
        if unit:
            req.setdefault(("kernel", unit), ("CLIPPY" if tree.endswith(".rs") else "CC", tree))
    return req


def patched_files(ctx):
    files = set()
    pdir = os.path.join(ctx.repo, "kernel", "patches")
    for name in sorted(os.listdir(pdir)) if os.path.isdir(pdir) else []:
        if name.endswith(".patch"):
            with open(os.path.join(pdir, name), errors="replace") as f:
                for m in re.finditer(r"^\+\+\+ b/(\S+)", f.read(), re.M):
                    if m.group(1).endswith((".rs", ".c")):
                        files.add(m.group(1))
    return sorted(files)


def cmd_record(args):
    ctx = Ctx(args.repo, args.link, args.src, args.pristine, args.objtree)
    record(ctx, args.kind, args.log, args.state, args.dirs)


def cmd_missing(args):
    ctx = Ctx(args.repo, args.link)
    state = load(args.state)
    for (kind, unit), (driver, _) in sorted(required(ctx, args.dirs).items()):
        if kind != args.kind:
            continue
        entry = state.get(unit)
        if entry is None or (driver == "CLIPPY" and entry["driver"] != "CLIPPY"):
            print(unit)


def cmd_report(args):
    ctx = Ctx(args.repo, args.link)
    states = {"kernel": load(args.kernel_state), "module": load(args.module_state)}
    for (kind, unit), (driver, path) in sorted(required(ctx, args.dirs).items()):
        entry = states[kind].get(unit)
        if entry is None:
            print(f"{path}:0: clippy: NOT_LINTED: no record of a compile of {unit} "
                  "(rebuild: make module)")
        elif driver == "CLIPPY" and entry["driver"] != "CLIPPY":
            print(f"{path}:0: clippy: NOT_LINTED: {unit} was compiled by rustc, "
                  "not clippy-driver (rebuild: make module)")
    for kind in ("kernel", "module"):
        for unit in sorted(states[kind]):
            for finding in states[kind][unit]["findings"]:
                print(finding)


def cmd_cargo(args):
    """cargo --message-format json on stdin to findings."""
    root = os.path.abspath(args.root)
    seen = set()
    for line in sys.stdin:
        try:
            msg = json.loads(line)
        except ValueError:
            continue
        if msg.get("reason") != "compiler-message":
            continue
        diag = msg["message"]
        if diag["level"] not in ("warning", "error"):
            continue
        spans = [s for s in diag["spans"] if s["is_primary"]]
        if not spans:
            continue
        span = spans[0]
        path = span["file_name"]
        if os.path.isabs(path):
            path = os.path.relpath(path, root)
        code = (diag.get("code") or {}).get("code") or diag["level"].upper()
        finding = f"{path}:{span['line_start']}: cargo-clippy: {code}: {diag['message']}"
        if finding not in seen:
            seen.add(finding)
            print(finding)


def cmd_selftest(_args):
    """A CLIPPY=1 log with findings in and out of our files."""
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        repo = os.path.join(tmp, "repo")
        src = os.path.join(tmp, "linux")
        pristine = os.path.join(tmp, "pristine")
        objtree = os.path.join(tmp, "kbuild")
        for d in ("repo/gem", "repo/hw/x", "repo/kernel/patches", "linux/rust/kernel/drm/accel",
                  "pristine/rust/kernel/drm", "kbuild"):
            os.makedirs(os.path.join(tmp, d))
        os.makedirs(os.path.join(src, "rust/kernel/drm"), exist_ok=True)
        os.symlink(os.path.join(repo, "gem"), os.path.join(src, "rust/kernel/drm/accel/gem"))
        for p in ("gem/mod.rs", "hw/x/x.rs", "hw/x/regs.rs"):
            with open(os.path.join(repo, p), "w") as f:
                f.write("//! x\n")
        with open(os.path.join(repo, "hw/x/Kbuild"), "w") as f:
            f.write("obj-m += x.o\n")
        with open(os.path.join(pristine, "rust/kernel/drm/mod.rs"), "w") as f:
            f.write("a\nb\nc\n")
        with open(os.path.join(src, "rust/kernel/drm/mod.rs"), "w") as f:
            f.write("a\nnew\nb\nc\n")
        with open(os.path.join(repo, "kernel/patches/0001.patch"), "w") as f:
            f.write("+++ b/rust/kernel/drm/mod.rs\n")
        ctx = Ctx(repo, ["rust/kernel/drm/accel/gem=gem"], src, pristine, objtree)
        kernel_log = f"""  CLIPPY L rust/kernel.o
warning: unneeded `return` statement
  --> {src}/rust/kernel/drm/accel/gem/mod.rs:7:5
   |
7  |     return x;
   |
   = help: for further information visit https://rust-lang.github.io/rust-clippy/rust-1.96.0/index.html#needless_return

warning: not ours
  --> {src}/rust/kernel/alloc.rs:3:1
   |

warning: ours: added by a patch
  --> {src}/rust/kernel/drm/mod.rs:2:1
   |
   = note: `#[warn(clippy::ptr_as_ptr)]` on by default

warning: not ours: a line the patch did not add
  --> {src}/rust/kernel/drm/mod.rs:3:1

warning: 2 warnings emitted

  CC      rust/helpers/helpers.o
"""
        module_log = f"""  CLIPPY [M] {objtree}/hw/x/x.o
warning: unsafe block missing a safety comment
  --> hw/x/regs.rs:12:9
   |
   = note: requested on the command line with `-W clippy::undocumented-unsafe-blocks`
"""
        state = os.path.join(tmp, "kernel.json")
        mstate = os.path.join(tmp, "module.json")
        for kind, log, st in (("kernel", kernel_log, state), ("module", module_log, mstate)):
            path = os.path.join(tmp, kind + ".log")
            with open(path, "w") as f:
                f.write(log)
            record(ctx, kind, path, st, ["gem", "hw"])
        # A second, up-to-date build compiles nothing: the findings stay.
        empty = os.path.join(tmp, "empty.log")
        open(empty, "w").close()
        record(ctx, "kernel", empty, state, ["gem", "hw"])
        got = [f for u in load(state).values() for f in u["findings"]]
        got += [f for u in load(mstate).values() for f in u["findings"]]
        want = [
            "gem/mod.rs:7: clippy: clippy::needless_return: warning: unneeded `return` statement",
            "rust/kernel/drm/mod.rs:2: clippy: clippy::ptr_as_ptr: warning: ours: added by a patch"
            " (a line kernel/patches adds)",
            "hw/x/regs.rs:12: clippy: clippy::undocumented_unsafe_blocks: warning: unsafe block"
            " missing a safety comment",
        ]
        for w in want:
            if w not in got:
                print(f"FAILED: kbuild-lint: missing finding {w!r} in {got!r}")
                ok = False
        for g in got:
            if g not in want:
                print(f"FAILED: kbuild-lint: unexpected finding {g!r}")
                ok = False
        if load(mstate).get("hw/x/x.o", {}).get("driver") != "CLIPPY":
            print(f"FAILED: kbuild-lint: unit hw/x/x.o not recorded: {load(mstate)!r}")
            ok = False
        # A new compile of the unit replaces its findings.
        with open(empty, "w") as f:
            f.write("  CLIPPY L rust/kernel.o\n")
        record(ctx, "kernel", empty, state, ["gem", "hw"])
        if load(state)["rust/kernel.o"]["findings"]:
            print("FAILED: kbuild-lint: a recompile did not clear the unit's findings")
            ok = False
    if ok:
        print("ok: kbuild-lint: findings recorded per unit, kept across builds, ours only")
    return 0 if ok else 1


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--repo", required=False, default=".")
    common.add_argument("--link", action="append", default=[],
                        help="TREE=REPO: a repository path linked into the kernel tree")
    common.add_argument("--dirs", nargs="*", default=[])
    r = sub.add_parser("record", parents=[common])
    r.add_argument("--kind", choices=["kernel", "module"], required=True)
    r.add_argument("--log", required=True)
    r.add_argument("--state", required=True)
    r.add_argument("--src")
    r.add_argument("--pristine")
    r.add_argument("--objtree")
    r.set_defaults(func=cmd_record)
    m = sub.add_parser("missing", parents=[common])
    m.add_argument("--kind", choices=["kernel", "module"], required=True)
    m.add_argument("--state", required=True)
    m.set_defaults(func=cmd_missing)
    rep = sub.add_parser("report", parents=[common])
    rep.add_argument("--kernel-state", required=True)
    rep.add_argument("--module-state", required=True)
    rep.set_defaults(func=cmd_report)
    c = sub.add_parser("cargo")
    c.add_argument("--root", default=".")
    c.set_defaults(func=cmd_cargo)
    s = sub.add_parser("selftest")
    s.set_defaults(func=cmd_selftest)
    args = p.parse_args()
    sys.exit(args.func(args) or 0)


if __name__ == "__main__":
    main()
