"""`slm chat [MODEL]`: an interactive chat that keeps its history.

Commands: /reset (forget the history), /system TEXT (set the system prompt and reset),
/exit (or ctrl-D). Ctrl-C stops the answer being written and keeps the session.
"""

from __future__ import annotations

import sys

from slmkit.apps.chat import ChatSession
from slmkit.cli.args import model, sampling, settings_loading

HELP = "commands: /reset · /system TEXT · /exit (ctrl-D) · ctrl-C stops an answer"


def configure(p) -> None:
    model(p)
    settings_loading(p)
    sampling(p)


def run(args) -> int:
    from slmkit.cli.common import open_engine, system_prompt
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
            line = input(">>> ")
        except EOFError:
            sys.stdout.write("\n")
            return
        except KeyboardInterrupt:
            con.print("\n[dim](use /exit or ctrl-D to leave)[/]")
            continue
        if _command(session, line.strip(), con):
            return
        if line.strip() and not line.strip().startswith("/"):
            _answer(session, line, con)


def _command(session: ChatSession, line: str, con) -> bool:
    """Handle a /command; True means leave the chat."""
    if line in ("/exit", "/quit", "/bye"):
        return True
    if line == "/reset":
        session.reset()
        con.print("[dim]history cleared[/]")
    elif line.startswith("/system"):
        text = line[len("/system"):].strip()
        session.reset(system=text or None)
        con.print(f"[dim]system prompt {'set' if text else 'cleared'}; history cleared[/]")
    elif line.startswith("/"):
        con.print(f"[dim]unknown command; {HELP}[/]")
    return False


def _answer(session: ChatSession, line: str, con) -> None:
    def write(text: str) -> None:
        sys.stdout.write(text)
        sys.stdout.flush()

    try:
        session.turn(line, write)
        sys.stdout.write("\n")
    except KeyboardInterrupt:
        con.print("\n[dim](stopped)[/]")
