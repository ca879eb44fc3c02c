"""`slm review FILE|DIR ...`: checklist fields with verbatim evidence, and risky clauses,
offline; `slm review eval`: scores on a labelled set of contracts (the work is in
slmkit.apps.review)."""

from __future__ import annotations

from slmkit.cli.args import config_from, settings_loading, upstream

DEFAULT_EVAL_DATA = "benchmarks/data/review"


def configure(p) -> None:
    from slmkit.apps.review import ReviewOptions
    from slmkit.cli.args import Opt, config_options, json_option, options

    p.add_argument("inputs", nargs="+", metavar="FILE|DIR",
                   help="files or folders (read recursively); `eval` evaluates")
    options(p, checklist=Opt("contract", "contract (default), nda, employment, or a YAML file "
                                         "of fields", "NAME|FILE.yaml"))
    config_options(p, ReviewOptions)
    options(p, schema=Opt(None, "also write the JSON schema of the report's fields to OUT.json",
                          "OUT.json"),
            model=Opt(None, "default: the default model"),
            data=Opt(DEFAULT_EVAL_DATA, "eval: contracts with labels.json (default "
                                        f"{DEFAULT_EVAL_DATA})", "DIR"))
    settings_loading(p)
    upstream(p.add_argument_group("hand-off: fields the local model leaves not found go to "
                                  "--upstream, masked by the guard"))
    json_option(p)


def run(args) -> int:
    from contextlib import nullcontext

    from slmkit.apps.documents import iter_documents
    from slmkit.apps.review import ReviewOptions, load_checklist, review
    from slmkit.apps.review.text import review_text, write_schema
    from slmkit.cli.common import names_its_model, open_upstream, run_on_documents
    from slmkit.guard.session import MaskSession

    opts = config_from(args, ReviewOptions)
    opts.validate()
    if args.inputs == ["eval"]:
        return _eval(args, opts, MaskSession)
    checklist = load_checklist(args.checklist)
    if bool(args.upstream) != bool(args.upstream_model or names_its_model(args.upstream)):
        raise ValueError("--upstream URL and --upstream-model NAME go together")
    if args.schema:
        write_schema(args.schema, checklist)
    items = list(iter_documents(args.inputs))
    remote = open_upstream(args) if args.upstream else None

    def work(engine, doc):
        return review(doc, engine, checklist, opts, masker=MaskSession, upstream=remote)

    with remote or nullcontext():
        return run_on_documents(args, items, work, lambda r: print(review_text(r)))


def _eval(args, opts, masker) -> int:
    from slmkit.apps.review.evaluate import evaluation
    from slmkit.cli.common import open_engine
    from slmkit.cli.output import emit

    with open_engine(args.model, args) as loaded:
        result = evaluation(args.data, loaded.engine, loaded.name, opts, masker)
    return emit(args, *result)
