"""Whole-flow checks: targets, reachability, variables, loops, and the shared conventions."""

from __future__ import annotations

from robocall.ivr.flow import Flow, Node
from robocall.kit.yamlfile import Problem


def check_flow(flow: Flow, *, faq_ids: frozenset[str] | None = None) -> list[Problem]:
    """Every problem of a parsed flow that needs the whole graph to see."""
    problems: list[Problem] = []

    def add(line: int, message: str) -> None:
        problems.append(Problem(flow.file, line, message))

    if flow.start and flow.start not in flow.nodes:
        add(1, f"`start:` names node {flow.start!r}, which does not exist")
    for node in flow.nodes.values():
        for target, line in node.targets():
            if target not in flow.nodes:
                add(line, f"node {node.name!r}: goes to {target!r}, which does not exist")
        if faq_ids is not None:
            for key, question in node.faq_menu.items():
                if question not in faq_ids:
                    add(
                        node.key_lines.get(f"menu.{key}", node.line),
                        f"node {node.name!r}: no question {question!r} in faq.yaml",
                    )
    problems.extend(_check_variables(flow))
    reachable = _reachable(flow)
    for node in flow.nodes.values():
        if node.name not in reachable:
            add(node.line, f"node {node.name!r} is unreachable from {flow.start!r}")
    problems.extend(_check_loops(flow, reachable))
    if flow.direction == "outbound" and flow.start in flow.nodes:
        firsts = _first_questions(flow)
        if not firsts:
            add(flow.nodes[flow.start].line, "an outbound call must ask a question")
        for first in firsts:
            if not first.confirms_person:
                add(
                    first.line,
                    "the first question of an outbound call must confirm the person "
                    "(`confirms_person: true`, 1 = it is me, 2 = wrong number)",
                )
            elif "1" not in first.choices or "2" not in first.choices:
                add(first.line, "the person-confirming question needs keys 1 and 2")
    return problems


def _check_variables(flow: Flow) -> list[Problem]:
    known = flow.known_variables()
    problems: list[Problem] = []

    def check(used: frozenset[str], line: int, where: str) -> None:
        unknown = sorted(used - known)
        if unknown:
            problems.append(
                Problem(
                    flow.file,
                    line,
                    f"{where}: undefined variable(s) {', '.join(unknown)} "
                    "(declare contact fields in `variables:`)",
                )
            )

    for node in flow.nodes.values():
        where = f"node {node.name!r}"
        if node.text is not None:
            check(node.text.variables, node.text.line, where)
        for case in node.cases:
            check(case.variables, case.when_line, where)
        if node.values:
            check(node.value_variables, node.key_lines.get("values", node.line), where)
    if flow.title is not None:
        check(flow.title.variables, flow.title.line, "title")
    return problems


def _edges(flow: Flow, node: Node) -> list[str]:
    return [t for t, _ in node.targets() if t in flow.nodes]


def _reachable(flow: Flow) -> set[str]:
    if flow.start not in flow.nodes:
        return set()
    seen = {flow.start}
    stack = [flow.start]
    while stack:
        for target in _edges(flow, flow.nodes[stack.pop()]):
            if target not in seen:
                seen.add(target)
                stack.append(target)
    return seen


def _ends_call(node: Node) -> bool:
    """Whether the call may end at this node (hang-up, end of script, silence)."""
    if node.kind in ("hangup", "optout"):
        return True
    if node.kind == "ask":
        # After the last unanswered repeat with no `default:`, the call says goodbye.
        return node.default is None
    if node.kind == "record":
        return node.default is None
    if node.kind in ("branch", "transfer"):
        return False
    return node.next is None


def _components(flow: Flow, names: set[str]) -> list[list[str]]:
    """Strongly connected components (Tarjan), iteratively."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    result: list[list[str]] = []
    counter = 0
    for root in sorted(names):
        if root in index:
            continue
        work = [(root, iter(_edges(flow, flow.nodes[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            current, children = work[-1]
            advanced = False
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(_edges(flow, flow.nodes[child]))))
                    advanced = True
                    break
                if child in on_stack:
                    low[current] = min(low[current], index[child])
            if advanced:
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[current])
            if low[current] == index[current]:
                component: list[str] = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == current:
                        break
                result.append(component)
    return result


def _check_loops(flow: Flow, reachable: set[str]) -> list[Problem]:
    problems: list[Problem] = []
    for component in _components(flow, reachable):
        members = set(component)
        first = flow.nodes[component[-1]]
        is_cycle = len(component) > 1 or first.name in _edges(flow, first)
        if not is_cycle:
            continue
        leaves = any(
            target not in members for name in members for target in _edges(flow, flow.nodes[name])
        )
        if leaves or any(_ends_call(flow.nodes[name]) for name in members):
            continue
        ordered = sorted(members, key=lambda name: flow.nodes[name].line)
        problems.append(
            Problem(
                flow.file,
                flow.nodes[ordered[0]].line,
                f"loop with no way out: {' → '.join(ordered)} → {ordered[0]}",
            )
        )
    return problems


def _first_questions(flow: Flow) -> list[Node]:
    """The questions an outbound call may ask first, following the script from `start:`."""
    found: dict[str, Node] = {}
    seen: set[str] = set()
    stack = [flow.start]
    while stack:
        name = stack.pop()
        if name not in flow.nodes or name in seen:
            continue
        seen.add(name)
        node = flow.nodes[name]
        if node.kind == "ask":
            found[name] = node
        elif node.kind != "transfer" and node.kind != "record":
            stack.extend(_edges(flow, node))
    return sorted(found.values(), key=lambda n: n.line)
