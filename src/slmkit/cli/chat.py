"""`slm chat [MODEL]`: an interactive chat that keeps its history.

Commands: /reset (forget the history), /system TEXT (set the system prompt and reset),
/exit (or ctrl-D). Ctrl-C stops the answer being written and keeps the session.
"""

from __future__ import annotations

import sys

from slmkit.apps.chat import HELP, ChatSession
from slmkit.cli.args import model, sampling, settings_loading


def configure(p) -> None:
    model(p)
    settings_loading(p)
    sampling(p)


def run(args) -> int:
    from slmkit.apps.chat import system_prompt
    from slmkit.cli.common import open_engine
    from slmkit.cli.output import stderr_console

    con = stderr_console()
    with open_engine(args.model, args) as loaded:
        session = ChatSession(loaded.engine, args, loaded.prompt_defaults,
                              system_prompt(args, loaded.prompt_defaults))
        con.print(f"[bold]{loaded.name}[/] ready · {HELP}", highlight=False)
        _loop(session, con)
    return 0


def _loop(session: ChatSession, con) -> None:
    try:
        import readline  # noqa: F401  (line editing and history for input())
    except ImportError:
        pass
    while True:
        try:
            line = input(">>> ").strip()
        except EOFError:
            sys.stdout.write("\n")
            return
        except KeyboardInterrupt:
            con.print("\n[dim](use /exit or ctrl-D to leave)[/]")
            continue
        if line.startswith("/"):
            note = session.command(line)
            if note is None:
                return
            con.print(f"[dim]{note}[/]")
        elif line:
            _answer(session, line, con)


def _answer(session: ChatSession, line: str, con) -> None:
    def write(text: str) -> None:
        sys.stdout.write(text)
        sys.stdout.flush()

    try:
        session.turn(line, write)
        sys.stdout.write("\n")
    except KeyboardInterrupt:
        con.print("\n[dim](stopped)[/]")
