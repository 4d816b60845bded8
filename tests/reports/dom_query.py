#!/usr/bin/env python3
"""Questions about a DOM that chromium --dump-dom wrote (after the page's script ran).

  dom_query.py FILE count CLASS[.CLASS...]   elements carrying all these classes
  dom_query.py FILE rows TABLE_ID            <tr> in the <tbody> of table#TABLE_ID
  dom_query.py FILE cells TABLE_ID           text of every body cell, row by row ("a|b|c" per line)
  dom_query.py FILE tag NAME                 elements named NAME
  dom_query.py FILE text ID                  text content of the element #ID
  dom_query.py FILE attr CLASS NAME          attribute NAME of each element with class CLASS, one a line
"""
import sys
from html.parser import HTMLParser

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


class Node:
    def __init__(self, tag, attrs, parent):
        self.tag, self.attrs, self.parent = tag, dict(attrs), parent
        self.children, self.text = [], []

    def classes(self):
        return set((self.attrs.get("class") or "").split())

    def all_text(self):
        out = []
        for part in self.text:
            out.append(part if isinstance(part, str) else part.all_text())
        return "".join(out)

    def walk(self):
        yield self
        for c in self.children:
            yield from c.walk()


class Tree(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.root = Node("#root", {}, None)
        self.cur = self.root

    def handle_starttag(self, tag, attrs):
        node = Node(tag, attrs, self.cur)
        self.cur.children.append(node)
        self.cur.text.append(node)
        if tag not in VOID:
            self.cur = node

    def handle_startendtag(self, tag, attrs):
        node = Node(tag, attrs, self.cur)
        self.cur.children.append(node)
        self.cur.text.append(node)

    def handle_endtag(self, tag):
        n = self.cur
        while n is not self.root and n.tag != tag:
            n = n.parent
        if n is not self.root:
            self.cur = n.parent

    def handle_data(self, data):
        self.cur.text.append(data)


def main():
    path, what = sys.argv[1], sys.argv[2]
    tree = Tree()
    with open(path, encoding="utf-8") as f:
        tree.feed(f.read())
    nodes = list(tree.root.walk())
    by_id = {n.attrs.get("id"): n for n in nodes if n.attrs.get("id")}
    if what == "count":
        want = set(sys.argv[3].split("."))
        print(sum(1 for n in nodes if want <= n.classes()))
    elif what in ("rows", "cells"):
        table = by_id.get(sys.argv[3])
        rows = [] if table is None else [n for b in table.children if b.tag == "tbody" for n in b.children if n.tag == "tr"]
        if what == "rows":
            print(len(rows))
        else:
            for r in rows:
                print("|".join(c.all_text().strip() for c in r.children if c.tag in ("td", "th")))
    elif what == "tag":
        print(sum(1 for n in nodes if n.tag == sys.argv[3]))
    elif what == "text":
        node = by_id.get(sys.argv[3])
        print("" if node is None else " ".join(node.all_text().split()))
    elif what == "attr":
        for n in nodes:
            if sys.argv[3] in n.classes():
                print(n.attrs.get(sys.argv[4], ""))
    else:
        sys.exit("unknown question " + what)


if __name__ == "__main__":
    main()
