"""`slm review FILE|DIR ...`: checklist fields with verbatim evidence, and risky clauses,
offline. Maps arguments to ``slmkit.apps.review`` and prints; the work is done there."""

from __future__ import annotations

import json
import sys


def configure(p) -> None:
    from slmkit.cli.args import upstream
    from slmkit.cli.common import add_model_args
    from slmkit.cli.output import add_json_flag

    p.add_argument("inputs", nargs="+", metavar="FILE|DIR")
    p.add_argument("--checklist", default="contract", metavar="NAME|FILE.yaml",
                   help="contract (default), nda, employment, or a YAML file of fields")
    p.add_argument("--lang", choices=["auto", "ko", "en"], default="auto")
    p.add_argument("--mode", choices=["retrieve", "stuff"], default="retrieve",
                   help="read the clauses retrieved per field (default) or the whole document")
    p.add_argument("--extraction", choices=["direct", "free"], default="direct",
                   help="JSON-constrained answer (default) or free text then extraction")
    p.add_argument("--masked", action="store_true",
                   help="mask personal data in the report too")
    p.add_argument("--schema", metavar="OUT.json",
                   help="also write the JSON schema of the report's fields to OUT.json")
    p.add_argument("--model", default=None, help="default: the default model")
    add_model_args(p)
    upstream(p.add_argument_group("hand-off: fields the local model leaves not found go to "
                                  "--upstream, masked by the guard"))
    add_json_flag(p)


def run(args) -> int:
    from slmkit.apps.documents import iter_documents
    from slmkit.apps.review import ReviewOptions, load_checklist, review
    from slmkit.cli.common import open_upstream, run_on_documents
    from slmkit.guard.session import MaskSession

    checklist = load_checklist(args.checklist)
    opts = ReviewOptions(mode=args.mode, extraction=args.extraction, lang=args.lang,
                         mask_report=args.masked)
    opts.validate()
    if bool(args.upstream) != bool(args.upstream_model):
        raise ValueError("--upstream URL and --upstream-model NAME go together")
    if args.schema:
        _write_schema(args.schema, checklist)
    items = list(iter_documents(args.inputs))
    remote = open_upstream(args) if args.upstream else None

    def work(engine, doc):
        return review(doc, engine, checklist, opts, masker=MaskSession, upstream=remote)

    try:
        return run_on_documents(args, items, work, _print)
    finally:
        if remote is not None:
            remote.close()


def _write_schema(path: str, checklist) -> None:
    found = {"type": "object", "properties": {
        "status": {"enum": ["found", "not_found"]}, "value": {"type": "string"},
        "evidence": {"type": "string"}, "location": {"type": "object"},
        "source": {"enum": ["local", "upstream"]}}, "required": ["status", "source"]}
    schema = {"type": "object", "properties": {f.name: found | {"description": f.question}
                                               for f in checklist}}
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(schema, fh, indent=2, ensure_ascii=False)


def _print(r: dict) -> None:
    print(f"== {r['document']} ({r['language']}, {r['mode']}, {r['extraction']}) ==")
    for name, f in r["fields"].items():
        if f["status"] == "found":
            loc = f["location"]
            where = f"line {loc['line']}" + (f", page {loc['page']}" if "page" in loc else "")
            by = " [upstream]" if f.get("source") == "upstream" else ""
            print(f"  {name}: {f['value']}{by}\n      \"{f['evidence']}\" ({where})")
        else:
            print(f"  {name}: not found ({f['reason']})")
    for risk in r["risks"]:
        where = f" (line {risk['location']['line']})" if risk["location"] else ""
        print(f"  ! {risk['kind']}: {risk['why']}{where}")
        if risk["clause"]:
            print(f"      \"{risk['clause'][:200]}\"")
    print()
