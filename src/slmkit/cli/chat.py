"""`slm chat [MODEL]`: an interactive chat that keeps its history.

Commands: /reset (forget the history), /system TEXT (set the system prompt and reset),
/exit (or ctrl-D). Ctrl-C stops the answer being written and keeps the session.
"""

from __future__ import annotations

import sys

from slmkit.cli.args import model, sampling, settings_loading

HELP = "commands: /reset · /system TEXT · /exit (ctrl-D) · ctrl-C stops an answer"


def configure(p) -> None:
    model(p)
    settings_loading(p)
    sampling(p)


class ChatSession:
    """History + turn logic, separate from the terminal so it can be driven by tests."""

    def __init__(self, engine, request_args, defaults: dict, system: str | None) -> None:
        self.engine, self.request_args, self.defaults = engine, request_args, defaults
        self.system = system
        self.history: list = []

    def reset(self, system: str | None = ...) -> None:
        if system is not ...:
            self.system = system
        self.history.clear()

    def messages(self, user_text: str) -> list:
        from slmkit.core.types import ChatMessage

        head = [ChatMessage("system", self.system)] if self.system is not None else []
        return head + self.history + [ChatMessage("user", user_text)]

    def turn(self, user_text: str, write) -> str:
        """Stream one answer through ``write``; keep it in the history (even if interrupted)."""
        from slmkit.cli.common import sampling_from_args
        from slmkit.core.types import ChatMessage, GenerateRequest

        a = self.request_args
        request = GenerateRequest(messages=self.messages(user_text), max_tokens=a.max_tokens,
                                  sampling=sampling_from_args(a, self.defaults),
                                  stop=tuple(a.stop), truncate=True)
        parts: list[str] = []
        stream = self.engine.generate(request)
        try:
            for chunk in stream:
                if chunk.text:
                    parts.append(chunk.text)
                    write(chunk.text)
        finally:
            stream.close()  # frees the request at once when ctrl-C interrupts it
            answer = "".join(parts)
            self.history += [ChatMessage("user", user_text), ChatMessage("assistant", answer)]
        return answer


def run(args) -> int:
    from slmkit.cli.common import open_engine, system_prompt
    from slmkit.cli.output import stderr_console

    loaded = open_engine(args.model, args)
    con = stderr_console()
    session = ChatSession(loaded.engine, args, loaded.prompt_defaults,
                          system_prompt(args, loaded.prompt_defaults))
    con.print(f"[bold]{loaded.name}[/] ready · {HELP}", highlight=False)
    try:
        _loop(session, con)
    finally:
        loaded.engine.close()
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
