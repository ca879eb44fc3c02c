"""`slm export sagemaker MODEL -o DIR`: a SageMaker model.tar.gz, its entry point (slmkit's
own server on /ping and /invocations), a Dockerfile and a boto3 deploy script."""

from __future__ import annotations

import argparse

from slmkit.cli.args import Opt, options


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("target", choices=("sagemaker",), help="where the model will run")
    p.add_argument("model", nargs="?", metavar="MODEL", help="stored model name or path "
                                                             "(default: the default model)")
    options(p, output=Opt(None, "directory to write (new or empty)", "DIR", short="-o",
                          required=True),
            ctx=Opt(4096, "context window the endpoint serves"),
            parallel=Opt(2, "sequences decoded together on the endpoint"),
            reference=Opt(False, "leave the model file out: the container pulls the model "
                                 "by name at start (it then needs internet access)"),
            no_pull=Opt(False, "fail instead of pulling a catalog model that is not stored"),
            json=Opt(False, "machine-readable output"))


def run(args: argparse.Namespace) -> int:
    from slmkit.cli.output import print_json
    from slmkit.export.sagemaker import export

    done = export(args.model, args.output, ctx=args.ctx, parallel=args.parallel,
                  reference=args.reference, pull=not args.no_pull)
    if args.json:
        return print_json(done.to_dict())
    print(f"wrote {done.archive} ({done.size_bytes / 2**20:,.1f} MiB, {done.model})\n"
          f"  next: build and push {done.directory}/Dockerfile to ECR, then\n"
          f"  python {done.directory}/deploy.py --bucket B --role ROLE_ARN --image ECR_URI "
          f"--name {done.endpoint_name}\n  see docs/aws.md")
    return 0
