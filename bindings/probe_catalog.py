"""Writes the catalogue of coverage probes: every probe name in the C++ source.

    probe_catalog.py --root SRC --out <build>/python/ksim/probe_catalog.txt engine sim

Run by the build (bindings/CMakeLists.txt) whenever a source file changes. It
finds each call `<expr>.probe(ARG)` / `<expr>->probe(ARG)` outside comments
and takes ARG's name when ARG is a string literal, or a choice between
literals (`ok ? "a" : "b"` gives both). A name built at run time
(`std::string("raft/to_") + state`, a `why` parameter) is not a literal and is
left out: a sweep reports such probes as "fired, not catalogued".

Output: one probe per line, sorted, `NAME<TAB>FILE:LINE[ FILE:LINE...]`
(paths relative to SRC). ksim.sweep.probe_catalog() reads it, so a sweep can
list the probes that never fired (Antithesis' "sometimes" assertions).
"""
import argparse
import os
import sys

_ESCAPES = {"n": "\n", "t": "\t", "\\": "\\", '"': '"', "'": "'", "0": "\0"}


def _in_number(text, i):
    """Whether text[i] follows a number (1'000, 0xFF'FF), not an identifier."""
    j = i
    while j > 0 and (text[j - 1].isalnum() or text[j - 1] == "_"):
        j -= 1
    return j < i and text[j].isdigit()


def tokens(text):
    """C++ text as (kind, value, line) tokens: 'str' for a string literal (its
    decoded text), 'code' for one character of code; comments and character
    literals are dropped. Good enough for probe calls, not a C++ lexer."""
    out, i, line, n = [], 0, 1, len(text)
    while i < n:
        c = text[i]
        if c == "\n":
            line += 1
            out.append(("code", c, line))
            i += 1
        elif text.startswith("//", i):
            while i < n and text[i] != "\n":
                i += 1
        elif text.startswith("/*", i):
            end = text.find("*/", i + 2)
            end = n if end < 0 else end + 2
            line += text.count("\n", i, end)
            i = end
        elif c == "R" and text.startswith('R"', i) and (i == 0 or not (text[i - 1].isalnum() or text[i - 1] == "_")):
            open_paren = text.find("(", i + 2)
            delim = ")" + text[i + 2:open_paren] + '"'
            end = text.find(delim, open_paren + 1)
            end = n if end < 0 else end
            out.append(("str", text[open_paren + 1:end], line))
            line += text.count("\n", i, end)
            i = end + len(delim)
        elif c == "'" and _in_number(text, i):  # a digit separator: 30'000
            out.append(("code", c, line))
            i += 1
        elif c in "\"'":
            j, buf = i + 1, []
            while j < n and text[j] != c:
                if text[j] == "\\" and j + 1 < n:
                    buf.append(_ESCAPES.get(text[j + 1], "\\" + text[j + 1]))
                    j += 2
                else:
                    buf.append(text[j])
                    j += 1
            if c == '"':
                out.append(("str", "".join(buf), line))
            i = j + 1
        else:
            out.append(("code", c, line))
            i += 1
    return out


def probe_names(text):
    """(name, line) for each probe call whose argument is literal-valued."""
    toks = tokens(text)
    code = "".join(v if k == "code" else '"' for k, v, _ in toks)  # one char per token
    found = []
    start = 0
    while True:
        at = code.find("probe", start)
        if at < 0:
            return found
        start = at + 5
        before = code[:at].rstrip()
        after = code[at + 5:].lstrip()
        if not (before.endswith(".") or before.endswith("->")) or not after.startswith("("):
            continue  # a declaration, a definition, a longer identifier
        if at + 5 < len(code) and (code[at + 5].isalnum() or code[at + 5] == "_"):
            continue
        if at > 0 and (code[at - 1].isalnum() or code[at - 1] == "_"):
            continue
        i = code.index("(", at)
        depth, j, args = 0, i, []  # the argument's tokens at depth 1 (deeper ones as "code" placeholders)
        while j < len(toks):
            kind, value, line = toks[j]
            if kind == "code" and value == "(":
                depth += 1
            elif kind == "code" and value == ")":
                depth -= 1
                if depth == 0:
                    break
            if depth > 1:
                args.append(("code", "#", line))  # nested: a call, a cast, a grouping
            elif j > i:
                args.append((kind, value, line))
            j += 1
        found.extend(_literal_choices(args))


def _literal_choices(args):
    """The names an argument can evaluate to when each is a literal: the whole
    argument, or a branch of a ?: (`c ? "a" : d ? "b" : "c"`). Nothing when the
    name is concatenated (`+`) or comes from a variable or a call."""
    items = []  # merged literals ('str', text, line) and significant code chars
    for kind, value, line in args:
        if kind == "str" and items and items[-1][0] == "str":
            items[-1] = ("str", items[-1][1] + value, items[-1][2])  # "a" "b"
        elif kind == "str" or not value.isspace():
            items.append((kind, value, line))
    if any(k == "code" and v == "+" for k, v, _ in items):
        return []
    out = []
    for n, (kind, value, line) in enumerate(items):
        if kind != "str":
            continue
        prev = items[n - 1][1] if n > 0 else "("
        nxt = items[n + 1][1] if n + 1 < len(items) else ")"
        if prev in "(?:" and nxt in "):":
            out.append((value, line))
    return out


def catalogue(root, dirs):
    names = {}
    for d in dirs:
        for folder, subdirs, files in os.walk(os.path.join(root, d)):
            subdirs.sort()
            for f in sorted(files):
                if not f.endswith((".cc", ".h", ".cpp", ".hpp")):
                    continue
                path = os.path.join(folder, f)
                rel = os.path.relpath(path, root)
                with open(path, encoding="utf-8", errors="replace") as fh:
                    for name, line in probe_names(fh.read()):
                        names.setdefault(name, []).append(f"{rel}:{line}")
    return names


def render(names):
    return "".join(f"{name}\t{' '.join(sites)}\n" for name, sites in sorted(names.items()))


def main(argv=None):
    p = argparse.ArgumentParser(description="Write the catalogue of coverage probe names.")
    p.add_argument("--root", required=True, help="the source tree")
    p.add_argument("--out", required=True, help="the catalogue file to write")
    p.add_argument("dirs", nargs="+", help="folders under --root to scan")
    args = p.parse_args(argv)
    text = render(catalogue(args.root, args.dirs))
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    tmp = args.out + ".tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.replace(tmp, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
